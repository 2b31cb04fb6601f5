import { describe, expect, it } from 'vitest';
import { readTemplateFile } from '../../../src/generator/templates.js';

describe('the DAG template', () => {
  it('keeps ruff format away from every config value with a comment beside it: such lines end in "# fmt: skip"', () => {
    // ruff format wraps `NAME = <value>  # comment` in parentheses when a long value makes the line
    // overflow and the wrapped form fits (a workspace under a long temp path did): the generated
    // file must be formatted for every value the config allows, so the value stands alone or the
    // line opts out, with its comment on the line above.
    const lines = readTemplateFile('dag/gpu_server_cicd_dag.py.hbs').toString('utf8').split('\n');
    const risky = lines.filter((line) => /\{\{py [^}]+\}\}.*\s#\s/.test(line) && !line.endsWith('# fmt: skip'));
    expect(risky).toEqual([]);
  });
});
