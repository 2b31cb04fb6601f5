import { rootCertificates } from 'node:tls';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../../src/errors.js';
import { caBundleFor, readCaBundle } from '../../../src/mwaa/ca-bundle.js';
import { createAwsClients } from '../../../src/mwaa/clients.js';
import { useTmpDir } from '../../support/tmp.js';

const tmp = useTmpDir('ca-bundle-');
// Real certificates that nobody here wrote: Node's bundled Mozilla roots.
const [first, second] = rootCertificates;

function file(text: string, name = 'bundle.pem'): string {
  const path = join(tmp(), name);
  writeFileSync(path, text);
  return path;
}

const noConfig = { aws: {} };
/** An environment without any AWS config file, so a developer's ~/.aws/config plays no part. */
function env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { AWS_CONFIG_FILE: join(tmp(), 'no-such-config'), ...extra };
}

describe('readCaBundle', () => {
  it('reads every certificate of a PEM bundle', () => {
    const path = file(`# two roots\n${first}\n${second}\n`);
    const bundle = readCaBundle(path, 'AWS_CA_BUNDLE');
    expect(bundle.pem.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    expect(bundle).toMatchObject({ path, source: 'AWS_CA_BUNDLE' });
  });

  it('names the variable and the path when the file is missing', () => {
    const path = join(tmp(), 'missing.pem');
    expect(() => readCaBundle(path, 'AWS_CA_BUNDLE')).toThrow(UserError);
    expect(() => readCaBundle(path, 'AWS_CA_BUNDLE')).toThrow(
      `AWS_CA_BUNDLE=${path} cannot be read (ENOENT). Point AWS_CA_BUNDLE at a PEM file of CA certificates, or unset it.`,
    );
  });

  it('names the variable when the file holds no PEM certificate, or a broken one', () => {
    const der = file('not a certificate at all\n');
    expect(() => readCaBundle(der, 'aws.caBundle')).toThrow(`aws.caBundle=${der} holds no PEM certificate`);
    const broken = file(`${first}\n-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n`);
    expect(() => readCaBundle(broken, 'AWS_CA_BUNDLE')).toThrow(`AWS_CA_BUNDLE=${broken}: certificate 2 of 2 is not valid PEM`);
  });

  it('refuses a folder', () => {
    const dir = tmp();
    expect(() => readCaBundle(dir, 'AWS_CA_BUNDLE')).toThrow(/AWS_CA_BUNDLE=.* cannot be read \(EISDIR\)/);
  });
});

describe('caBundleFor: as the AWS CLI finds its bundle', () => {
  it('trusts the default roots when nothing names a bundle', () => {
    expect(caBundleFor(noConfig, env())).toBeUndefined();
  });

  it('takes AWS_CA_BUNDLE', () => {
    const path = file(first!);
    expect(caBundleFor(noConfig, env({ AWS_CA_BUNDLE: path }))).toMatchObject({ source: 'AWS_CA_BUNDLE', path });
  });

  it("takes ca_bundle from the profile's section of the shared config file", () => {
    const a = file(first!, 'a.pem');
    const b = file(second!, 'b.pem');
    const config = file(`[default]\nregion = us-east-1\nca_bundle = ${a}\n\n[profile work]\nca_bundle=${b}\n`, 'config');
    expect(caBundleFor(noConfig, { AWS_CONFIG_FILE: config })).toMatchObject({
      path: a,
      source: `ca_bundle of profile default in ${config}`,
    });
    expect(caBundleFor(noConfig, { AWS_CONFIG_FILE: config, AWS_PROFILE: 'work' })).toMatchObject({ path: b });
    expect(caBundleFor(noConfig, { AWS_CONFIG_FILE: config, AWS_PROFILE: 'other' })).toBeUndefined();
  });

  it('the config beats AWS_CA_BUNDLE, which beats the profile (explicit first, as the CLI flag does)', () => {
    const a = file(first!, 'a.pem');
    const b = file(second!, 'b.pem');
    const config = file(`[default]\nca_bundle = ${b}\n`, 'config');
    expect(caBundleFor({ aws: { caBundle: a } }, { AWS_CA_BUNDLE: b, AWS_CONFIG_FILE: config })?.source).toBe('aws.caBundle');
    expect(caBundleFor(noConfig, { AWS_CA_BUNDLE: a, AWS_CONFIG_FILE: config })?.path).toBe(a);
  });

  it('a missing bundle stops the AWS clients from being made, naming where it was set', () => {
    const path = join(tmp(), 'gone.pem');
    const settings = { mwaa: { region: 'us-east-1' }, aws: { endpoints: {} }, localStack: false };
    expect(() => createAwsClients(settings, env({ AWS_CA_BUNDLE: path }))).toThrow(`AWS_CA_BUNDLE=${path} cannot be read (ENOENT)`);
    expect(() => createAwsClients({ ...settings, aws: { endpoints: {}, caBundle: path } }, env())).toThrow(
      `aws.caBundle=${path} cannot be read`,
    );
  });
});
