/**
 * The running stack's MWAA API judged by botocore, which we did not write: the committed copy of
 * its MWAA model is the one in the stack's venvs; the real control plane's answers (a real Airflow
 * behind InvokeRestApi) walk through that model; and boto3, unmodified, drives every operation a
 * user script would (boto3_mwaa_client.py beside this file) and parses each answer with its own
 * parser, InvokeRestApi's errors included.
 */
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { botocoreDirs } from '../../../test/support/aws-models.js';
import { requireStack, stackFetch, stackS3 } from '../../../test/support/stack.js';
import {
  checkAnswer,
  extractMwaaModel,
  MWAA_MODEL_FIXTURE,
  serializeMwaaModel,
  type WalkCount,
  type WireAnswer,
  wireAnswer,
  withUnknownOperation,
} from '../support/mwaa-model.js';

const stack = requireStack();
const name = stack.environmentName;
const endpoint = stack.endpoints.mwaa;
const fetchStack = stackFetch(stack);
const probeDag = `invoke_probe_${randomBytes(3).toString('hex')}`;
const s3 = stackS3(stack);

afterAll(async () => {
  await s3.send(new DeleteObjectCommand({ Bucket: stack.bucket, Key: `dags/${probeDag}.py` }));
  s3.destroy();
});

describe(`the MWAA API as botocore describes it (Airflow ${stack.airflowLine})`, () => {
  it("the committed model is botocore's, in every venv of the stack", () => {
    const dirs = botocoreDirs();
    expect(dirs.length, 'no botocore in the local stack venvs: run npm run local -- up').toBeGreaterThan(0);
    const fixture = readFileSync(MWAA_MODEL_FIXTURE, 'utf8');
    for (const dir of dirs) {
      expect(serializeMwaaModel(extractMwaaModel(dir)), `${dir}: run npx tsx local-stack/test/support/mwaa-model.ts`).toBe(fixture);
    }
  });

  it("the real control plane's answers walk through the model of the stack's own botocore", async () => {
    const botocore = botocoreDirs().find((dir) => dir.startsWith(join(stack.venvBin, '..')));
    expect(botocore, `no botocore in ${stack.venvBin}/..`).toBeDefined();
    const model = withUnknownOperation(extractMwaaModel(botocore!));
    const post = (body: unknown): RequestInit => ({ method: 'POST', body: JSON.stringify(body) });
    const answers: WireAnswer[] = [];
    for (const [operation, path, init] of [
      ['GetEnvironment', `/environments/${name}`, {}],
      ['ListEnvironments', '/environments', {}],
      ['CreateCliToken', `/clitoken/${name}`, { method: 'POST' }],
      ['CreateWebLoginToken', `/webtoken/${name}`, { method: 'POST' }],
      ['InvokeRestApi', `/restapi/${name}`, post({ Path: '/dags', Method: 'GET' })],
      ['InvokeRestApi', `/restapi/${name}`, post({ Path: '/variables/no_such_variable', Method: 'GET' })],
      ['InvokeRestApi', `/restapi/${name}`, post({ Path: '/dags/x/dagRuns', Method: 'POST', Body: { conf: 'not an object' } })],
      ['ListTagsForResource', `/tags/${encodeURIComponent(`arn:aws:airflow:${stack.region}:111111111111:environment/no-such-env`)}`, {}],
      ['DELETE /restapi', `/restapi/${name}`, { method: 'DELETE' }],
    ] as const) {
      answers.push(await wireAnswer(operation, await fetchStack(`${endpoint}${path}`, { ...init, signal: AbortSignal.timeout(30_000) })));
    }
    const count: WalkCount = { members: 0 };
    const problems = answers.flatMap((a) => checkAnswer(model, a, count));
    // GetEnvironment's WebserverUrl is a host name clients put after https:// (as AWS's is), not the model's https:// URL.
    expect(problems.filter((p) => !p.startsWith('GetEnvironment.Environment.WebserverUrl: does not match'))).toEqual([]);
    expect(answers.map((a) => `${a.operation} ${a.status} ${a.errorType ?? ''}`.trim())).toEqual([
      'GetEnvironment 200',
      'ListEnvironments 200',
      'CreateCliToken 200',
      'CreateWebLoginToken 200',
      'InvokeRestApi 200',
      'InvokeRestApi 400 RestApiClientException',
      'InvokeRestApi 400 RestApiClientException',
      'ListTagsForResource 404 ResourceNotFoundException',
      'DELETE /restapi 404 UnknownOperationException',
    ]);
    expect((answers[5]!.body as { RestApiStatusCode: number }).RestApiStatusCode).toBe(404);
    console.log(`real stack model walk: ${answers.length} answers, ${count.members} members checked`);
  });

  it('boto3 parses every operation, InvokeRestApi lists the DAGs and raises its errors as botocore models them', async () => {
    const source = [
      'import datetime',
      '',
      'from airflow import DAG',
      '',
      `with DAG(dag_id="${probeDag}", schedule=None, start_date=datetime.datetime(2024, 1, 1), catchup=False):`,
      '    pass',
      '',
    ].join('\n');
    await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: `dags/${probeDag}.py`, Body: source }));
    const script = join(import.meta.dirname, 'boto3_mwaa_client.py');
    const { stdout } = await promisify(execFile)(join(stack.venvBin, 'python'), [script, endpoint, stack.region, name, probeDag], {
      timeout: 480_000,
      maxBuffer: 16 * 1024 * 1024,
      // The stack's CA as a user gives it to boto3 (it serves HTTPS as MWAA does), and nothing else of this machine's AWS settings.
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...(stack.tls ? { AWS_CA_BUNDLE: stack.tls.caCert } : {}) },
    });
    // biome-ignore lint/suspicious/noExplicitAny: the script's JSON report, judged field by field below.
    const out = JSON.parse(stdout) as Record<string, any>;
    console.log(`boto3 against the stack: ${JSON.stringify(out, null, 1)}`);

    // botocore's switches for MWAA's api./env. host prefixes: without one, it calls api.127.0.0.1.
    expect(out.prefix_forms.none.exit).not.toBe(0);
    for (const form of [
      'Config(inject_host_prefix=False)',
      'env AWS_DISABLE_HOST_PREFIX_INJECTION=true',
      'shared config disable_host_prefix_injection = true',
    ]) {
      expect(out.prefix_forms[form], form).toMatchObject({ exit: 0 });
    }
    expect(out.get_environment.ok.Environment).toMatchObject({
      Name: name,
      Status: 'AVAILABLE',
      AirflowVersion: stack.airflowVersion,
      CreatedAt: 'datetime',
    });
    expect(out.list_environments.ok).toEqual({ Environments: [name] });
    expect(out.list_environments_pages).toEqual([[name]]);
    expect(out.create_cli_token.keys).toEqual(['CliToken', 'WebServerHostname']);
    expect(out.create_web_login_token.ok).toMatchObject({ AirflowIdentity: expect.any(String), WebServerHostname: expect.any(String) });

    expect(out.invoke_rest_api_dags.status).toBe(200);
    expect(out.invoke_rest_api_dags.dag_ids).toContain(probeDag);
    expect(out.invoke_rest_api_dags.total_entries).toBe(out.invoke_rest_api_dags.dag_ids.length);
    expect(out.invoke_rest_api_query.ok.RestApiResponse.dags).toHaveLength(1);
    expect(out.invoke_rest_api_404.error).toMatchObject({
      code: 'RestApiClientException',
      class: 'RestApiClientException',
      http: 400,
      members: { RestApiStatusCode: 404, RestApiResponse: expect.any(Object) },
    });
    // Airflow's own words, which differ per line ({title, status, detail} on 2, {detail} on 3).
    expect(JSON.stringify(out.invoke_rest_api_404.error.members.RestApiResponse)).toContain('no_such_dag_here');
    expect(out.invoke_rest_api_long_path.error).toMatchObject({ code: 'ValidationException', class: 'ValidationException', http: 400 });
    expect(out.invoke_rest_api_long_path.error.message).toContain('Member must have length less than or equal to 64');
    expect(out.invoke_rest_api_head.error).toMatchObject({ code: 'ValidationException', http: 400 });
    expect(out.invoke_rest_api_denied).toMatchObject({ error: { code: 'AccessDeniedException', http: 403 }, mwaa_hook_falls_back: true });
    expect(out.get_environment_unknown.error).toMatchObject({
      code: 'ResourceNotFoundException',
      class: 'ResourceNotFoundException',
      http: 404,
    });

    expect(out.tag_resource).toEqual({ ok: {} });
    expect(out.list_tags_after_tag.ok).toEqual({ Tags: { team: 'gpu', stage: 'local' } });
    expect(out.untag_resource).toEqual({ ok: {} });
    expect(out.list_tags_after_untag.ok).toEqual({ Tags: { team: 'gpu' } });
    expect(out.tags_in_get_environment).toEqual({ team: 'gpu' });
    expect(out.untag_rest).toEqual({ ok: {} });
    expect(out.list_tags_unknown.error).toMatchObject({ code: 'ResourceNotFoundException', http: 404 });
    expect(out.update_environment.ok.Arn).toBe(out.get_environment.ok.Environment.Arn);
    expect(out.status_after_update).toBe('AVAILABLE');
    expect(out.update_environment_invalid.error).toMatchObject({ code: 'ValidationException', http: 400 });
  });
});
