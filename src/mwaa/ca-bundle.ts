/**
 * The certificate authorities our AWS clients and our requests to the MWAA web server trust, found
 * the way the AWS CLI finds its own: a bundle named explicitly (the config's `aws.caBundle`, as the
 * CLI's --ca-bundle), else the AWS_CA_BUNDLE variable, else `ca_bundle` in the shared config file's
 * profile (AWS_PROFILE or default). As with the AWS CLI, a bundle replaces the default roots.
 * The AWS SDK for JavaScript reads none of these by itself, and NODE_EXTRA_CA_CERTS works only
 * when set before Node starts; so the bundle goes to each SDK client's https agent and to each
 * fetch of the web server.
 */
import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { Agent, fetch as undiciFetch } from 'undici';
import { ExitCode, UserError } from '../errors.js';

export interface CaBundle {
  /** Where it was named: `aws.caBundle`, `AWS_CA_BUNDLE`, `ca_bundle of profile default in ~/.aws/config`. */
  source: string;
  path: string;
  /** The PEM text, every certificate in it. */
  pem: string;
}

/** A bundle larger than this is not a CA bundle (Mozilla's whole set is about 220 KiB). */
const MAX_BUNDLE_BYTES = 4 * 1024 * 1024;
const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Reads and checks a bundle: a readable file of one or more PEM certificates. */
export function readCaBundle(path: string, source: string): CaBundle {
  const fix = `Point ${source} at a PEM file of CA certificates, or unset it.`;
  let text: string;
  try {
    if (statSync(path).size > MAX_BUNDLE_BYTES) {
      throw new UserError(`${source}=${path} is larger than 4 MiB: not a CA bundle. ${fix}`, ExitCode.usage);
    }
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (error instanceof UserError) throw error;
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new UserError(`${source}=${path} cannot be read (${code}). ${fix}`, ExitCode.usage);
  }
  const certificates = text.match(PEM_CERTIFICATE) ?? [];
  if (certificates.length === 0)
    throw new UserError(`${source}=${path} holds no PEM certificate (-----BEGIN CERTIFICATE-----). ${fix}`, ExitCode.usage);
  certificates.forEach((pem, index) => {
    try {
      new X509Certificate(pem);
    } catch {
      throw new UserError(`${source}=${path}: certificate ${index + 1} of ${certificates.length} is not valid PEM. ${fix}`, ExitCode.usage);
    }
  });
  return { source, path, pem: certificates.join('\n') };
}

/** `ca_bundle` of the profile in the shared config file (AWS_CONFIG_FILE or ~/.aws/config), if any. */
export function profileCaBundle(env: NodeJS.ProcessEnv): { path: string; source: string } | undefined {
  const file = env.AWS_CONFIG_FILE || join(homedir(), '.aws', 'config');
  const profile = env.AWS_PROFILE || env.AWS_DEFAULT_PROFILE || 'default';
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  // The AWS config file's sections: [default] and [profile NAME]; `key = value` lines.
  const wanted = profile === 'default' ? ['default', 'profile default'] : [`profile ${profile}`];
  let inProfile = false;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    const section = /^\[\s*([^\]]+?)\s*\]$/.exec(line);
    if (section) {
      inProfile = wanted.includes(section[1]!.replace(/\s+/g, ' '));
      continue;
    }
    const setting = /^ca_bundle\s*=\s*(.+)$/.exec(line);
    if (inProfile && setting) return { path: setting[1]!.trim(), source: `ca_bundle of profile ${profile} in ${file}` };
  }
  return undefined;
}

/** The bundle this run trusts, or undefined for the default roots. */
export function caBundleFor(
  settings: { aws: { caBundle?: string | undefined } },
  env: NodeJS.ProcessEnv = process.env,
): CaBundle | undefined {
  if (settings.aws.caBundle) return readCaBundle(settings.aws.caBundle, 'aws.caBundle');
  if (env.AWS_CA_BUNDLE) return readCaBundle(env.AWS_CA_BUNDLE, 'AWS_CA_BUNDLE');
  const fromProfile = profileCaBundle(env);
  return fromProfile ? readCaBundle(fromProfile.path, fromProfile.source) : undefined;
}

/** One pool per bundle for the life of the process, as Node's fetch keeps one for the default roots. */
const dispatchers = new Map<string, Agent>();

/**
 * A fetch with its own connection pool that trusts `ca`. Node's fetch takes no CA option; an
 * undici Agent (the library Node's fetch is built on) as its dispatcher does. The Agent goes to
 * undici's own fetch, not Node's: Node's bundled undici may be another major version, and a newer
 * one refuses a dispatcher from an older one. Only the trust changes: the connect timeout stays
 * undici's 10 s, the deadlines and caps stay web-fetch.ts's.
 */
export function fetchTrusting(ca: string): typeof fetch {
  let dispatcher = dispatchers.get(ca);
  if (!dispatcher) {
    dispatcher = new Agent({ connect: { ca } });
    dispatchers.set(ca, dispatcher);
  }
  const pool = dispatcher;
  return ((resource: Parameters<typeof undiciFetch>[0], init?: Parameters<typeof undiciFetch>[1]) =>
    undiciFetch(resource, { ...init, dispatcher: pool })) as unknown as typeof fetch;
}
