/**
 * Input checks worded as AWS's service front end words them (`1 validation error detected: Value
 * 'x' at 'path' failed to satisfy constraint: Member must have length less than or equal to 64`),
 * all problems of a request in one ValidationException, members named in lower camel case.
 */
import { ServiceError } from './errors.js';

export interface ConstraintProblem {
  /** The member as AWS names it: `path`, `method`, `tags`. */
  member: string;
  value: unknown;
  /** `Member must not be null`, `Member must have length less than or equal to 64`, ... */
  constraint: string;
}

function shown(value: unknown): string {
  if (value === undefined || value === null) return 'null';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

export function constraintError(problems: ConstraintProblem[]): ServiceError {
  const count = `${problems.length} validation error${problems.length === 1 ? '' : 's'} detected`;
  const each = problems.map((p) => `Value '${shown(p.value)}' at '${p.member}' failed to satisfy constraint: ${p.constraint}`);
  return new ServiceError('ValidationException', `${count}: ${each.join('; ')}`);
}

/** The length constraints of a string member, as the model's `min`/`max`; a missing value counts as null. */
export function checkLength(problems: ConstraintProblem[], member: string, value: unknown, min: number, max: number): value is string {
  if (value === undefined || value === null) {
    problems.push({ member, value, constraint: 'Member must not be null' });
    return false;
  }
  if (typeof value !== 'string') {
    problems.push({ member, value, constraint: 'Member must be a string' });
    return false;
  }
  // Smithy's length trait (the model's min/max) counts Unicode code points.
  const length = [...value].length;
  if (length < min) problems.push({ member, value, constraint: `Member must have length greater than or equal to ${min}` });
  else if (length > max) problems.push({ member, value, constraint: `Member must have length less than or equal to ${max}` });
  else return true;
  return false;
}
