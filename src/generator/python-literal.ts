import { compareCodeUnits } from '../util/order.js';
/**
 * Config values reach generated Python only through this function. It emits a Python literal for
 * a JSON-like value, so a branch or path holding quotes, backslashes or newlines stays data and can
 * never close a string or inject code. (JSON string escapes are all valid Python escapes.)
 */
export function pythonLiteral(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`cannot emit ${value} as a Python literal`);
    return String(value);
  }
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(pythonLiteral).join(', ')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => compareCodeUnits(a, b))
      .map(([k, v]) => `${JSON.stringify(k)}: ${pythonLiteral(v)}`);
    return `{${entries.join(', ')}}`;
  }
  throw new TypeError(`cannot emit a ${typeof value} as a Python literal`);
}
