/**
 * TagResource, UntagResource and ListTagsForResource: tags per environment ARN, checked against
 * botocore's model for MWAA (EnvironmentArn's pattern, TagKey 1-128 and TagValue 1-256 characters
 * of letters, spaces, digits and `_.:/=+-@`, TagMap and TagKeyList at most 50), kept in a file so
 * they outlive a restart of the control plane as they outlive anything on MWAA.
 */
import { readFileSync } from 'node:fs';
import { writeJsonAtomic } from '../state.js';
import { checkLength, constraintError, type ConstraintProblem } from './aws-validation.js';
import { ServiceError } from './errors.js';

/** The model's EnvironmentArn pattern (unanchored there; an ARN must match from its start). */
const ENVIRONMENT_ARN = /^arn:aws(-[a-z]+)?:airflow:[a-z0-9-]+:\d{12}:environment\/\w+.*$/;
const TAG_TEXT = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
const MAX_TAGS = 50;

export class TagStore {
  private tags: Record<string, Record<string, string>>;

  constructor(private readonly persistPath?: string) {
    this.tags = {};
    if (persistPath) {
      try {
        this.tags = JSON.parse(readFileSync(persistPath, 'utf8')) as Record<string, Record<string, string>>;
      } catch {
        this.tags = {};
      }
    }
  }

  /** ValidationException for a malformed ARN; ResourceNotFoundException for one that names no environment here. */
  static checkArn(arn: string, known: readonly string[]): void {
    const problems: ConstraintProblem[] = [];
    if (checkLength(problems, 'resourceArn', arn, 1, 1224) && !ENVIRONMENT_ARN.test(arn)) {
      problems.push({
        member: 'resourceArn',
        value: arn,
        constraint: `Member must satisfy regular expression pattern: ${ENVIRONMENT_ARN.source.slice(1, -1)}`,
      });
    }
    if (problems.length > 0) throw constraintError(problems);
    if (!known.includes(arn)) throw new ServiceError('ResourceNotFoundException', `Environment ${arn} was not found.`);
  }

  list(arn: string): Record<string, string> {
    return { ...(this.tags[arn] ?? {}) };
  }

  tag(arn: string, input: unknown): void {
    const problems: ConstraintProblem[] = [];
    if (typeof input !== 'object' || input === null || Array.isArray(input) || Object.keys(input).length === 0) {
      problems.push({
        member: 'tags',
        value: input ?? null,
        constraint: input == null ? 'Member must not be null' : 'Member must have length greater than or equal to 1',
      });
      throw constraintError(problems);
    }
    const entries = Object.entries(input as Record<string, unknown>);
    if (entries.length > MAX_TAGS)
      problems.push({ member: 'tags', value: input, constraint: `Member must have length less than or equal to ${MAX_TAGS}` });
    for (const [key, value] of entries) {
      if (checkLength(problems, 'tags.key', key, 1, 128) && !TAG_TEXT.test(key)) {
        problems.push({
          member: 'tags.key',
          value: key,
          constraint: `Member must satisfy regular expression pattern: ${TAG_TEXT.source.slice(1, -1)}`,
        });
      }
      if (checkLength(problems, `tags.${key}`, value, 1, 256) && !TAG_TEXT.test(value)) {
        problems.push({
          member: `tags.${key}`,
          value,
          constraint: `Member must satisfy regular expression pattern: ${TAG_TEXT.source.slice(1, -1)}`,
        });
      }
    }
    if (problems.length > 0) throw constraintError(problems);
    const merged = { ...(this.tags[arn] ?? {}), ...(input as Record<string, string>) };
    if (Object.keys(merged).length > MAX_TAGS) {
      throw new ServiceError(
        'ValidationException',
        `A resource can have at most ${MAX_TAGS} tags; ${arn} would have ${Object.keys(merged).length}.`,
      );
    }
    this.tags[arn] = merged;
    this.save();
  }

  untag(arn: string, keys: string[]): void {
    const problems: ConstraintProblem[] = [];
    if (keys.length > MAX_TAGS)
      problems.push({ member: 'tagKeys', value: keys, constraint: `Member must have length less than or equal to ${MAX_TAGS}` });
    for (const key of keys) checkLength(problems, 'tagKeys.member', key, 1, 128);
    if (problems.length > 0) throw constraintError(problems);
    const current = { ...(this.tags[arn] ?? {}) };
    for (const key of keys) delete current[key];
    this.tags[arn] = current;
    this.save();
  }

  private save(): void {
    if (this.persistPath) writeJsonAtomic(this.persistPath, this.tags);
  }
}
