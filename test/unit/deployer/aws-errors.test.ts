import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useTmpDir } from '../../support/tmp.js';
import { explainAwsError } from '../../../src/deployer/aws-errors.js';
import { UserError } from '../../../src/errors.js';

const ctx = { envName: 'prod', localStack: false };

describe('explainAwsError', () => {
  it('missing credentials says how to provide them', () => {
    const e = Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' });
    expect((explainAwsError(e, { ...ctx, env: {} }) as Error).message).toMatch(
      /No AWS credentials found.*--profile <name> \(or AWS_PROFILE\)/,
    );
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

describe('explainAwsError names what this run used', () => {
  const tmp = useTmpDir();
  const credentialsError = () =>
    Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' });

  it('an AWS_PROFILE that names no profile says so and lists the profiles there are', () => {
    const home = tmp();
    mkdirSync(join(home, '.aws'));
    writeFileSync(
      join(home, '.aws/config'),
      '[default]\nregion = us-east-1\n[profile deployer]\nregion = eu-west-1\n[sso-session corp]\nsso_region = us-east-1\n',
    );
    writeFileSync(join(home, '.aws/credentials'), '[ci]\naws_access_key_id = x\n');
    const message = (explainAwsError(credentialsError(), { ...ctx, env: { HOME: home, AWS_PROFILE: 'deploy' } }) as Error).message;
    expect(message).toBe(
      'AWS_PROFILE is "deploy", but no profile of that name is in ~/.aws/config or ~/.aws/credentials (there: ci, default, deployer). ' +
        'Fix the name (--profile <name>), or create it: aws configure --profile deploy',
    );
  });

  it('a profile that exists but gives no credentials points at SSO login for it', () => {
    const home = tmp();
    mkdirSync(join(home, '.aws'));
    writeFileSync(join(home, '.aws/config'), '[profile deployer]\nsso_session = corp\n');
    const message = (explainAwsError(credentialsError(), { ...ctx, env: { HOME: home, AWS_PROFILE: 'deployer' } }) as Error).message;
    expect(message).toMatch(/^The AWS profile "deployer" gave no credentials .*aws sso login --profile deployer$/);
  });

  it('a network error names the region from the config, and endpoint overrides only when set', () => {
    const e = Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' });
    const plain = (explainAwsError(e, { ...ctx, region: 'eu-west-1', env: {} }) as Error).message;
    expect(plain).toMatch(/Check the network and the region \(mwaa\.region of prod is eu-west-1\)\.$/);
    expect(plain).not.toMatch(/AWS_REGION|AWS_ENDPOINT_URL/);
    const overridden = (explainAwsError(e, { ...ctx, region: 'eu-west-1', env: { AWS_ENDPOINT_URL_S3: 'http://x' } }) as Error).message;
    expect(overridden).toMatch(/and AWS_ENDPOINT_URL_S3, which override the endpoints\.$/);
  });

  it('rejected credentials say to renew them', () => {
    const e = Object.assign(new Error('The security token included in the request is expired'), { name: 'ExpiredTokenException' });
    expect((explainAwsError(e, { ...ctx, env: { AWS_PROFILE: 'deployer' } }) as Error).message).toMatch(
      /AWS rejected the credentials: .*aws sso login --profile deployer/,
    );
  });
});
