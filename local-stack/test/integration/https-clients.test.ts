/**
 * The stack's MWAA API and web server over HTTPS, reached by clients we did not write, configured
 * only by `eval "$(local env)"`: curl, Python's requests and boto3 from the stack's venv, and Node.
 * Verification stays on everywhere; without the CA bundle each of them refuses the stack. Our own
 * deploy --plan then goes the same way (HTTPS, the stack's CA from its config overlay).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { shellJoin } from '../../../src/util/shell-quote.js';
import { repoRoot, requireStack } from '../../../test/support/stack.js';

const stack = requireStack();
const cli = join(repoRoot, 'dist', 'cli.js');

/** A bare environment: the stack's location and nothing of this machine's AWS or CA settings. */
const bare: NodeJS.ProcessEnv = {
  PATH: process.env.PATH,
  HOME: process.env.HOME,
  MWAA_LOCAL_HOME: stack.root,
  ...(process.env.MWAA_LOCAL_VENVS ? { MWAA_LOCAL_VENVS: process.env.MWAA_LOCAL_VENVS } : {}),
};

/** `script` in bash after `eval "$(node dist/cli.js local env)"`; `unset` names variables to drop after it. */
function afterEval(script: string, unset: string[] = []): { code: number | null; stdout: string; stderr: string } {
  // Captured first: a failed substitution inside `eval` would leave `eval ""`, which succeeds.
  const line = `settings="$(${shellJoin([process.execPath, cli, 'local', 'env'])})" || exit 99\neval "$settings"\n${unset.map((n) => `unset ${n}\n`).join('')}${script}`;
  const result = spawnSync('bash', ['-c', line], { env: bare, encoding: 'utf8', timeout: 120_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const PYTHON_CLIENT = `
import base64, json, sys
import boto3, requests
mwaa = boto3.client('mwaa')
env = mwaa.get_environment(Name=sys.argv[1])['Environment']
token = mwaa.create_cli_token(Name=sys.argv[1])
answer = requests.post(
    'https://%s/aws_mwaa/cli' % token['WebServerHostname'],
    headers={'Authorization': 'Bearer ' + token['CliToken'], 'Content-Type': 'text/plain'},
    data='version',
    timeout=120,
)
print(json.dumps({
    'status': env['Status'],
    'webserverUrl': env['WebserverUrl'],
    'cliStatus': answer.status_code,
    'stdout': base64.b64decode(answer.json()['stdout']).decode(),
}))
`;

/** What each refusal looks like: boto3's SSLError, requests' SSLError. */
const PYTHON_REFUSED = `
import sys
import boto3, requests
from botocore.config import Config
what = sys.argv[2]
try:
    if what == 'boto3':
        boto3.client('mwaa', config=Config(retries={'max_attempts': 1})).get_environment(Name=sys.argv[1])
    else:
        requests.get(sys.argv[3] + '/environments/' + sys.argv[1], timeout=30)
    print('accepted')
except Exception as error:
    print(type(error).__name__)
`;

/** ListEnvironments as the API host sees it: `ok`, or the error and the URL botocore tried. */
const PYTHON_PREFIX = `
import re
import boto3
from botocore.config import Config
try:
    boto3.client('mwaa', config=Config(connect_timeout=5, retries={'total_max_attempts': 1})).list_environments()
    print('ok')
except Exception as error:
    url = re.search(r'"(https?://[^/"]+)', str(error))
    print(type(error).__name__, url.group(1) if url else str(error))
`;

describe('unmodified clients reach the stack over HTTPS with `eval "$(local env)"`', () => {
  it('prints the endpoint, the CA bundles and the host prefix switch, all pointing at this stack', () => {
    const out = afterEval('env');
    expect(out.code).toBe(0);
    const vars = Object.fromEntries(out.stdout.split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    expect(stack.endpoints.mwaa).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(vars.AWS_ENDPOINT_URL_MWAA).toBe(stack.endpoints.mwaa);
    for (const name of ['AWS_CA_BUNDLE', 'NODE_EXTRA_CA_CERTS', 'REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE'])
      expect(vars[name], name).toBe(stack.tls?.caCert);
    expect(vars.AWS_DISABLE_HOST_PREFIX_INJECTION).toBe('true');
  });

  it('curl verifies the control plane with the bundle, and refuses it without', () => {
    const url = `"$AWS_ENDPOINT_URL_MWAA/environments/${stack.environmentName}"`;
    const ok = afterEval(`curl -sS --max-time 60 -o /dev/null -w '%{http_code} %{scheme}' ${url}`);
    expect(ok.stderr).toBe('');
    expect(ok.stdout).toBe('200 HTTPS');
    const refused = afterEval(`curl -sS --max-time 60 -o /dev/null ${url}`, ['CURL_CA_BUNDLE']);
    // 60: the peer's certificate cannot be verified with the known CAs.
    expect(refused.code).toBe(60);
    expect(refused.stderr).toMatch(/certificate/i);
  });

  it('boto3 calls GetEnvironment and CreateCliToken, and requests runs a CLI command on the web server, as on AWS', () => {
    const python = join(stack.venvBin, 'python');
    const out = afterEval(shellJoin([python, '-c', PYTHON_CLIENT, stack.environmentName]));
    expect(out.stderr).not.toMatch(/Traceback/);
    expect(out.code).toBe(0);
    const answer = JSON.parse(out.stdout) as { status: string; webserverUrl: string; cliStatus: number; stdout: string };
    expect(answer).toEqual({
      status: expect.stringMatching(/^(AVAILABLE|UPDATING)$/),
      webserverUrl: new URL(stack.endpoints.mwaa).host,
      cliStatus: 200,
      stdout: `${stack.airflowVersion}\n`,
    });
  });

  it('boto3 and requests refuse the stack without their bundle', () => {
    const python = join(stack.venvBin, 'python');
    const refused = shellJoin([python, '-c', PYTHON_REFUSED, stack.environmentName]);
    // botocore falls back to REQUESTS_CA_BUNDLE (endpoint.py) when AWS_CA_BUNDLE is unset.
    const boto = afterEval(`${refused} boto3`, ['AWS_CA_BUNDLE', 'REQUESTS_CA_BUNDLE']);
    expect(boto.stdout.trim()).toBe('SSLError');
    // requests reads CURL_CA_BUNDLE too.
    const req = afterEval(`${refused} requests "$AWS_ENDPOINT_URL_MWAA"`, ['REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE']);
    expect(req.stdout.trim()).toBe('SSLError');
  });

  it("boto3 keeps MWAA's api. host prefix, which resolves nowhere, unless the switch local env prints is set", () => {
    const python = join(stack.venvBin, 'python');
    const call = shellJoin([python, '-c', PYTHON_PREFIX, stack.environmentName]);
    expect(afterEval(call).stdout.trim()).toBe('ok');
    const prefixed = afterEval(call, ['AWS_DISABLE_HOST_PREFIX_INJECTION']).stdout.trim();
    expect(prefixed).toBe(`EndpointConnectionError ${new URL(stack.endpoints.mwaa).protocol}//api.${new URL(stack.endpoints.mwaa).host}`);
  });

  it('Node trusts it through NODE_EXTRA_CA_CERTS', () => {
    const script = shellJoin([
      process.execPath,
      '-e',
      `fetch(process.env.AWS_ENDPOINT_URL_MWAA + '/environments/${stack.environmentName}').then((r) => console.log(r.status), (e) => console.log(e.cause?.code ?? e.message))`,
    ]);
    expect(afterEval(script).stdout.trim()).toBe('200');
    expect(afterEval(script, ['NODE_EXTRA_CA_CERTS']).stdout.trim()).toMatch(
      /UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY/,
    );
  });

  it('our deploy --plan reaches the stack over HTTPS with nothing but MWAA_LOCAL_HOME set', () => {
    const result = spawnSync(process.execPath, [cli, 'deploy', '--env', 'local', '--plan'], {
      env: bare,
      cwd: repoRoot,
      encoding: 'utf8',
      timeout: 180_000,
    });
    expect(result.stderr).not.toMatch(/TLS|certificate/i);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(`Plan for ${stack.environmentName}:`);
  });
});
