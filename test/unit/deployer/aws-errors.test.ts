import { describe, expect, it } from 'vitest';
import { explainAwsError } from '../../../src/deployer/aws-errors.js';
import { UserError } from '../../../src/errors.js';

const ctx = { envName: 'prod', localStack: false };

describe('explainAwsError', () => {
  it('missing credentials says how to provide them', () => {
    const e = Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' });
    expect((explainAwsError(e, ctx) as Error).message).toMatch(/No AWS credentials found.*AWS_PROFILE/);
  });
  it('a refused connection to the local stack points at the stack', () => {
    const e = Object.assign(new Error('fetch failed'), { cause: { code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:1' } });
    const out = explainAwsError(e, { envName: 'local', localStack: true }) as Error;
    expect(out).toBeInstanceOf(UserError);
    expect(out.message).toMatch(/ECONNREFUSED.*npx mwaa-gpu-cicd local status/);
  });
  it('access denied points at the generated policy', () => {
    const e = Object.assign(new Error('User is not authorized'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 403 } });
    expect((explainAwsError(e, ctx) as Error).message).toMatch(/dist-artifacts\/prod\/iam\/deploy-role-policy.json/);
  });
  it('leaves other errors and UserErrors alone', () => {
    const user = new UserError('x');
    const other = new Error('boom');
    expect(explainAwsError(user, ctx)).toBe(user);
    expect(explainAwsError(other, ctx)).toBe(other);
  });
});
