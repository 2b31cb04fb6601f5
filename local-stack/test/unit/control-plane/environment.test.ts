import { describe, expect, it } from 'vitest';
import { toApiEnvironment, validateUpdate, type EnvironmentRecord } from '../../../src/control-plane/environment.js';
import { ServiceError } from '../../../src/control-plane/errors.js';

function record(overrides: Partial<EnvironmentRecord> = {}): EnvironmentRecord {
  return {
    name: 'local-env',
    arn: 'arn:aws:airflow:us-east-1:123456789012:environment/local-env',
    status: 'AVAILABLE',
    airflowVersion: '2.10.3',
    sourceBucketArn: 'arn:aws:s3:::bucket',
    dagS3Path: 'dags',
    airflowConfigurationOptions: {},
    webserverUrl: '127.0.0.1:1234',
    createdAtMs: 1_700_000_000_000,
    inertSettings: {},
    ...overrides,
  };
}

function rejection(body: unknown, current = record()): string {
  try {
    validateUpdate(body, current);
  } catch (error) {
    expect(error).toBeInstanceOf(ServiceError);
    expect((error as ServiceError).type).toBe('ValidationException');
    expect((error as ServiceError).statusCode).toBe(400);
    return (error as ServiceError).message;
  }
  throw new Error('expected a ValidationException');
}

describe('validateUpdate', () => {
  it('accepts pinned plugins and requirements versions', () => {
    const request = validateUpdate(
      {
        PluginsS3Path: 'plugins.zip',
        PluginsS3ObjectVersion: 'v1',
        RequirementsS3Path: 'requirements.txt',
        RequirementsS3ObjectVersion: 'v2',
        MaxWorkers: 3,
      },
      record(),
    );
    expect(request).toEqual({
      plugins: { path: 'plugins.zip', version: 'v1' },
      requirements: { path: 'requirements.txt', version: 'v2' },
      inertSettings: { MaxWorkers: 3 },
    });
  });

  it('uses the pinned path when only a new version is given', () => {
    const request = validateUpdate({ PluginsS3ObjectVersion: 'v9' }, record({ pluginsS3Path: 'p/plugins.zip' }));
    expect(request.plugins).toEqual({ path: 'p/plugins.zip', version: 'v9' });
  });

  it('accepts configuration options and a DAG path with a trailing slash', () => {
    const request = validateUpdate({ AirflowConfigurationOptions: { 'core.parallelism': '4' }, DagS3Path: 'dags/' }, record());
    expect(request.airflowConfigurationOptions).toEqual({ 'core.parallelism': '4' });
    expect(request.dagS3Path).toBe('dags');
  });

  it.each([
    [{ PluginsS3ObjectVersion: 'v1' }, 'needs PluginsS3Path'],
    [{ PluginsS3Path: '' }, 'PluginsS3Path must be a non-empty string'],
    [{ PluginsS3Path: 3 }, 'PluginsS3Path must be a non-empty string'],
    [{ PluginsS3Path: '/abs/plugins.zip' }, 'relative S3 key'],
    [{ RequirementsS3Path: '../x.txt' }, 'relative S3 key'],
    [{ AirflowVersion: '3.0.6' }, 'cannot upgrade in place'],
    [{ SourceBucketArn: 'arn:aws:s3:::other' }, 'must stay arn:aws:s3:::bucket'],
    [{ MaxWorkers: 'many' }, 'MaxWorkers must be an integer'],
    [{ Bogus: 1 }, 'unknown field Bogus'],
    [{ AirflowConfigurationOptions: { nodot: 'x' } }, 'must look like section.key'],
    [{ StartupScriptS3Path: 'startup.sh' }, 'startup scripts'],
    [{ StartupScriptS3ObjectVersion: 'v1' }, 'StartupScriptS3ObjectVersion needs StartupScriptS3Path'],
    [{ StartupScriptS3Path: '/startup.sh' }, 'StartupScriptS3Path must be a relative S3 key'],
    [{ DagS3Path: '../dags' }, 'DagS3Path must be a relative S3 key'],
    [[], 'must be a JSON object'],
  ])('rejects %j', (body, message) => {
    expect(rejection(body)).toContain(message);
  });

  it('reports every problem at once', () => {
    const message = rejection({ PluginsS3Path: '/a', RequirementsS3Path: '/b' });
    expect(message).toContain('PluginsS3Path');
    expect(message).toContain('RequirementsS3Path');
  });

  it('rejects updates while an update runs', () => {
    expect(rejection({ PluginsS3Path: 'plugins.zip' }, record({ status: 'UPDATING' }))).toContain('UPDATING');
  });

  it('accepts updates after a failed one', () => {
    expect(validateUpdate({ PluginsS3Path: 'plugins.zip' }, record({ status: 'UPDATE_FAILED' })).plugins).toEqual({
      path: 'plugins.zip',
    });
  });
});

describe('toApiEnvironment', () => {
  it('renders the GetEnvironment shape with epoch-second timestamps', () => {
    const api = toApiEnvironment(
      record({
        status: 'UPDATE_FAILED',
        pluginsS3Path: 'plugins.zip',
        pluginsS3ObjectVersion: 'v1',
        lastUpdate: {
          status: 'FAILED',
          createdAtMs: 1_700_000_100_500,
          source: 'UpdateEnvironment',
          error: { errorCode: 'PLUGINS_IMPORT_FAILED', errorMessage: 'boom' },
        },
      }),
    );
    expect(api).toMatchObject({
      Name: 'local-env',
      Status: 'UPDATE_FAILED',
      CreatedAt: 1_700_000_000,
      PluginsS3Path: 'plugins.zip',
      PluginsS3ObjectVersion: 'v1',
      LastUpdate: {
        Status: 'FAILED',
        CreatedAt: 1_700_000_100.5,
        Source: 'UpdateEnvironment',
        Error: { ErrorCode: 'PLUGINS_IMPORT_FAILED', ErrorMessage: 'boom' },
      },
    });
    expect(api).not.toHaveProperty('RequirementsS3Path');
  });
});
