/**
 * The stack's own certificate authority and the control plane's server certificate, so that the
 * MWAA API and the web server answer over HTTPS as on AWS. Made per stack root by `local up`
 * (never committed) with Python's `cryptography` from the stack's venv (paramiko needs it, so
 * every venv has it): no tool beyond what the stack already installs. Private keys are 0600.
 * Kept across `up`s; made again when a file is missing, unreadable, expires within
 * RENEW_WITHIN_MS, or the server certificate no longer matches the CA or the names clients use.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runProgram } from './processes.js';

/** The names clients reach the stack by: GetEnvironment's WebserverUrl is `127.0.0.1:<port>`. */
export const SERVER_NAMES = { dns: ['localhost'], ip: ['127.0.0.1'] } as const;
export const CA_DAYS = 3650;
export const SERVER_DAYS = 825;
/** A certificate with less than this left is made again. */
export const RENEW_WITHIN_MS = 30 * 24 * 3600 * 1000;

export interface StackTlsFiles {
  dir: string;
  /** The CA certificate: what clients trust (AWS_CA_BUNDLE, NODE_EXTRA_CA_CERTS, ...). */
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
}

export function tlsFiles(root: string): StackTlsFiles {
  const dir = join(root, 'tls');
  return {
    dir,
    caCert: join(dir, 'ca.pem'),
    caKey: join(dir, 'ca-key.pem'),
    serverCert: join(dir, 'server.pem'),
    serverKey: join(dir, 'server-key.pem'),
  };
}

/**
 * argv: dir, what ("all" or "server"), now (epoch seconds), CA days, server days, then the server's
 * DNS names and IP addresses as `dns:NAME` / `ip:ADDRESS`. Writes each file beside its final name
 * and renames it, keys created 0600, so a reader never sees half a file or a readable key.
 */
export const MAKE_CERTS = `
import datetime
import ipaddress
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

folder, what, now, ca_days, server_days = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
names = sys.argv[6:]
start = datetime.datetime.fromtimestamp(now, datetime.UTC) - datetime.timedelta(hours=1)


def write(name, data, mode):
    path = os.path.join(folder, name)
    tmp = path + ".tmp"
    if os.path.exists(tmp):
        os.unlink(tmp)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def key_pem(key):
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def cert_pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


if what == "all":
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mwaa-gpu-cicd local stack CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=ca_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    write("ca-key.pem", key_pem(ca_key), 0o600)
    write("ca.pem", cert_pem(ca_cert), 0o644)
else:
    with open(os.path.join(folder, "ca-key.pem"), "rb") as f:
        ca_key = serialization.load_pem_private_key(f.read(), None)
    with open(os.path.join(folder, "ca.pem"), "rb") as f:
        ca_cert = x509.load_pem_x509_certificate(f.read())

alt = []
for name in names:
    kind, value = name.split(":", 1)
    alt.append(x509.DNSName(value) if kind == "dns" else x509.IPAddress(ipaddress.ip_address(value)))
server_key = ec.generate_private_key(ec.SECP256R1())
server_cert = (
    x509.CertificateBuilder()
    .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
    .issuer_name(ca_cert.subject)
    .public_key(server_key.public_key())
    .serial_number(x509.random_serial_number())
    .not_valid_before(start)
    .not_valid_after(start + datetime.timedelta(days=server_days))
    .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
    .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    .add_extension(x509.SubjectAlternativeName(alt), critical=False)
    .add_extension(x509.SubjectKeyIdentifier.from_public_key(server_key.public_key()), critical=False)
    .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()), critical=False)
    .sign(ca_key, hashes.SHA256())
)
write("server-key.pem", key_pem(server_key), 0o600)
write("server.pem", cert_pem(server_cert), 0o644)
`;

/** What `ensureStackTls` did: nothing, a new server certificate, or a new CA and server certificate. */
export type TlsRenewal = 'none' | 'server' | 'all';

export interface EnsureTlsOptions {
  root: string;
  /** A python with `cryptography` (the stack's venv). */
  python: string;
  now: Date;
}

function readCert(path: string): X509Certificate | undefined {
  try {
    return new X509Certificate(readFileSync(path));
  } catch {
    return undefined;
  }
}

function keyMatches(keyPath: string, cert: X509Certificate): boolean {
  try {
    return cert.checkPrivateKey(createPrivateKey(readFileSync(keyPath)));
  } catch {
    return false;
  }
}

function lasts(cert: X509Certificate, now: Date): boolean {
  return new Date(cert.validFrom).getTime() <= now.getTime() && new Date(cert.validTo).getTime() - now.getTime() > RENEW_WITHIN_MS;
}

/** `DNS:localhost, IP Address:127.0.0.1`, as X509Certificate.subjectAltName shows them. */
function expectedAltNames(): string[] {
  return [...SERVER_NAMES.dns.map((n) => `DNS:${n}`), ...SERVER_NAMES.ip.map((a) => `IP Address:${a}`)].sort();
}

/** What must be made again for the files in `files` to serve clients at `now`. */
export function tlsRenewalNeeded(files: StackTlsFiles, now: Date): TlsRenewal {
  const ca = readCert(files.caCert);
  if (!ca?.ca || !lasts(ca, now) || !keyMatches(files.caKey, ca)) return 'all';
  const server = readCert(files.serverCert);
  if (!server || !lasts(server, now) || !keyMatches(files.serverKey, server)) return 'server';
  if (!server.checkIssued(ca) || !server.verify(ca.publicKey)) return 'server';
  const names = (server.subjectAltName ?? '').split(/,\s*/).filter(Boolean).sort();
  if (names.join(',') !== expectedAltNames().join(',')) return 'server';
  return 'none';
}

/** The stack's CA and server certificate, made or made again as needed; the keys kept 0600. */
export async function ensureStackTls(options: EnsureTlsOptions): Promise<{ files: StackTlsFiles; renewed: TlsRenewal }> {
  const files = tlsFiles(options.root);
  mkdirSync(files.dir, { recursive: true, mode: 0o700 });
  const renewed = tlsRenewalNeeded(files, options.now);
  if (renewed !== 'none') {
    const args = [
      '-c',
      MAKE_CERTS,
      files.dir,
      renewed,
      String(Math.floor(options.now.getTime() / 1000)),
      String(CA_DAYS),
      String(SERVER_DAYS),
      ...SERVER_NAMES.dns.map((n) => `dns:${n}`),
      ...SERVER_NAMES.ip.map((a) => `ip:${a}`),
    ];
    const result = await runProgram(options.python, args, { timeoutMs: 60_000, maxOutputBytes: 64 * 1024 });
    if (result.code !== 0) {
      const why = result.timedOut ? 'timed out after 60 s' : `exited with ${result.signal ?? result.code}`;
      const tail = result.stderr.toString('utf8').trim().split('\n').slice(-10).join('\n');
      throw new Error(`making the stack's TLS certificates in ${files.dir} with ${options.python} (cryptography) ${why}\n${tail}`);
    }
    const left = tlsRenewalNeeded(files, options.now);
    if (left !== 'none')
      throw new Error(`the TLS certificates made in ${files.dir} do not check out (${left}); remove the folder and run up again`);
  }
  // Keys made by an older run, or copied around, may have lost their mode.
  for (const key of [files.caKey, files.serverKey]) if (existsSync(key)) chmodSync(key, 0o600);
  return { files, renewed };
}
