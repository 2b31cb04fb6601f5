import { describe, expect, it } from 'vitest';
import { airflowConstraintUrl, mwaaSeesConstraint } from '../../../src/mwaa/requirements.js';

describe("MWAA's constraint rule", () => {
  const url = airflowConstraintUrl('2.11.2', '3.12');

  it('sees "-c " or "--constraint " anywhere in a line, a comment included', () => {
    for (const text of [
      `-c ${url}\n`,
      `--constraint "${url}"\n`,
      `  -c ${url}`,
      `# -c ${url}\nparamiko\n`,
      `paramiko  # pinned by --constraint ${url}`,
      'x\r\n-c y',
    ])
      expect(mwaaSeesConstraint(text), JSON.stringify(text)).toBe(true);
  });

  it('does not see the forms pip reads without that space, so MWAA adds its own constraint file to them', () => {
    for (const text of [`-c${url}\n`, `--constraint=${url}\n`, `-c\t${url}\n`, `--constraint\t${url}`, 'paramiko\n', ''])
      expect(mwaaSeesConstraint(text), JSON.stringify(text)).toBe(false);
  });
});
