/** In-memory S3 (versioned, conditional writes), MWAA and clock for deployer unit tests (Airflow: ../support/fake-airflow.ts). */
import { createHash } from 'node:crypto';
import {
  PreconditionFailedError,
  type AlarmDefinition,
  type CloudWatchPort,
  type RemoteAlarm,
  type EnvironmentState,
  type EnvironmentUpdate,
  type MwaaPort,
  type ObjectHead,
  type PutObjectInput,
  type S3Port,
} from '../../../src/deployer/ports.js';
import type { Clock } from '../../../src/deployer/clock.js';
import { tagRemoteCall } from '../../../src/mwaa/remote-call.js';

interface Version {
  versionId: string;
  body: Uint8Array;
  metadata: Record<string, string>;
  etag: string;
  deleteMarker?: boolean;
}

export class FakeS3 implements S3Port {
  versioning: string | undefined = 'Enabled';
  readonly objects = new Map<string, Version[]>();
  readonly calls: string[] = [];
  private next = 1;
  /** Called before each write; throw from it to simulate a crash mid-deploy. */
  beforeWrite?: (key: string) => void;

  get writes(): string[] {
    return this.calls.filter((c) => /^(put|copy|delete) /.test(c));
  }

  private current(key: string): Version | undefined {
    const latest = this.objects.get(key)?.at(-1);
    return latest && !latest.deleteMarker ? latest : undefined;
  }

  private add(key: string, body: Uint8Array, metadata: Record<string, string>): Version {
    const version: Version = {
      versionId: this.versioning === 'Enabled' ? `v${this.next++}` : 'null',
      body,
      metadata,
      etag: `"${createHash('md5').update(body).digest('hex')}"`,
    };
    const list = this.objects.get(key) ?? [];
    list.push(version);
    this.objects.set(key, list);
    return version;
  }

  async getBucketVersioning(): Promise<string | undefined> {
    this.calls.push('getBucketVersioning');
    return this.versioning;
  }

  async headObject(_bucket: string, key: string, versionId?: string): Promise<ObjectHead | undefined> {
    this.calls.push(`head ${key}${versionId ? `@${versionId}` : ''}`);
    const v = versionId ? this.objects.get(key)?.find((x) => x.versionId === versionId) : this.current(key);
    if (!v || v.deleteMarker) return undefined;
    return { versionId: v.versionId, sha256: v.metadata.sha256, etag: v.etag, size: v.body.length };
  }

  async putObject(input: PutObjectInput): Promise<{ versionId?: string; etag?: string }> {
    this.calls.push(`put ${input.key}`);
    this.beforeWrite?.(input.key);
    const existing = this.current(input.key);
    if (input.ifNoneMatch === '*' && existing) throw new PreconditionFailedError(input.key);
    if (input.ifMatch !== undefined && existing?.etag !== input.ifMatch) throw new PreconditionFailedError(input.key);
    const v = this.add(input.key, input.body, input.metadata ?? {});
    return { versionId: this.versioning === 'Enabled' ? v.versionId : undefined, etag: v.etag };
  }

  async getObject(_bucket: string, key: string, versionId?: string) {
    this.calls.push(`get ${key}${versionId ? `@${versionId}` : ''}`);
    const v = versionId ? this.objects.get(key)?.find((x) => x.versionId === versionId && !x.deleteMarker) : this.current(key);
    return v ? { body: v.body, etag: v.etag, versionId: v.versionId } : undefined;
  }

  async copyObject(_bucket: string, key: string, sourceVersionId: string) {
    this.calls.push(`copy ${key}@${sourceVersionId}`);
    this.beforeWrite?.(key);
    const source = this.objects.get(key)?.find((x) => x.versionId === sourceVersionId);
    if (!source) throw new Error(`NoSuchVersion ${key}@${sourceVersionId}`);
    return { versionId: this.add(key, source.body, { ...source.metadata }).versionId };
  }

  async deleteObject(_bucket: string, key: string, ifMatch?: string): Promise<void> {
    this.calls.push(`delete ${key}`);
    const existing = this.current(key);
    if (ifMatch !== undefined && existing?.etag !== ifMatch) throw new PreconditionFailedError(key);
    const list = this.objects.get(key) ?? [];
    list.push({ versionId: `v${this.next++}`, body: new Uint8Array(), metadata: {}, etag: '', deleteMarker: true });
    this.objects.set(key, list);
  }

  async listKeys(_bucket: string, prefix: string): Promise<string[]> {
    this.calls.push(`list ${prefix}`);
    return [...this.objects.keys()].filter((k) => k.startsWith(prefix) && this.current(k)).sort();
  }

  text(key: string): string | undefined {
    const v = this.current(key);
    return v ? Buffer.from(v.body).toString('utf8') : undefined;
  }
}

export class FakeClock implements Clock {
  constructor(public ms = Date.parse('2026-11-26T09:00:00Z')) {}
  now = (): number => this.ms;
  sleep = async (ms: number): Promise<void> => {
    this.ms += ms;
  };
}

/**
 * An MWAA environment whose update takes `updateSteps` GetEnvironment calls (UPDATING), then
 * goes AVAILABLE, or UPDATE_FAILED when `failNextUpdate` is set.
 */
export class FakeMwaa implements MwaaPort {
  state: EnvironmentState;
  readonly updates: EnvironmentUpdate[] = [];
  readonly statusLog: string[] = [];
  updateSteps = 2;
  failNextUpdate: string | undefined;
  private remaining = 0;
  private pending: EnvironmentUpdate | undefined;
  onStatusChange?: (status: string) => void;

  constructor(
    private readonly clock: FakeClock,
    overrides: Partial<EnvironmentState> = {},
  ) {
    this.state = {
      name: 'env-x',
      status: 'AVAILABLE',
      airflowVersion: '2.10.3',
      bucket: 'airflow-test',
      dagS3Path: 'dags',
      pins: {},
      ...overrides,
    };
  }

  async getEnvironment(): Promise<EnvironmentState> {
    if (this.pending) {
      if (this.remaining > 0) {
        this.remaining -= 1;
      } else {
        const failed = this.failNextUpdate;
        this.failNextUpdate = undefined;
        if (failed) {
          this.state = {
            ...this.state,
            status: 'UPDATE_FAILED',
            lastUpdate: { ...this.state.lastUpdate, status: 'FAILED', errorCode: 'PluginImportError', errorMessage: failed },
          };
        } else {
          this.state = {
            ...this.state,
            pins: { ...this.state.pins, ...this.pending },
            status: 'AVAILABLE',
            lastUpdate: { ...this.state.lastUpdate, status: 'SUCCESS' },
          };
        }
        this.pending = undefined;
        this.onStatusChange?.(this.state.status);
      }
    }
    this.statusLog.push(this.state.status);
    return structuredClone(this.state);
  }

  async updateEnvironment(_name: string, update: EnvironmentUpdate): Promise<void> {
    if (this.state.status !== 'AVAILABLE' && this.state.status !== 'UPDATE_FAILED') {
      throw new Error(`ValidationException: environment is ${this.state.status}`);
    }
    this.updates.push(update);
    this.pending = update;
    this.remaining = this.updateSteps;
    this.state = {
      ...this.state,
      status: 'UPDATING',
      lastUpdate: { status: 'PENDING', createdAt: new Date(this.clock.now()).toISOString() },
    };
    this.onStatusChange?.('UPDATING');
  }
}

export function sha256(text: string | Uint8Array): string {
  return createHash('sha256').update(text).digest('hex');
}

/** CloudWatch's alarms in memory: PutMetricAlarm replaces the definition and tags only a new alarm. */
export class FakeCloudWatch implements CloudWatchPort {
  readonly alarms = new Map<string, { definition: AlarmDefinition; tags: Record<string, string> }>();
  readonly calls: string[] = [];
  /** Alarm names whose PutMetricAlarm is denied, as IAM would. */
  readonly denied = new Set<string>();

  async describeAlarms(prefix: string): Promise<RemoteAlarm[]> {
    this.calls.push(`describe ${prefix}`);
    return [...this.alarms.values()]
      .filter((a) => a.definition.name.startsWith(prefix))
      .map((a) => ({
        ...structuredClone(a.definition),
        arn: `arn:aws:cloudwatch:us-east-1:123456789012:alarm:${a.definition.name}`,
        owner: a.tags['mwaa-gpu-cicd:environment'],
      }));
  }

  async putAlarm(alarm: AlarmDefinition, tags: Record<string, string>): Promise<void> {
    this.calls.push(`put ${alarm.name}`);
    if (this.denied.has(alarm.name)) {
      // As the SDK client from src/mwaa/clients.ts throws it: tagged with the call it came from.
      const denied = Object.assign(new Error(`User is not authorized to perform: cloudwatch:PutMetricAlarm on ${alarm.name}`), {
        name: 'AccessDenied',
        $fault: 'client',
        $metadata: { httpStatusCode: 403, requestId: 'r-1', attempts: 1 },
      });
      throw tagRemoteCall(denied, {
        service: 'CloudWatch',
        operation: 'PutMetricAlarm',
        endpoint: 'monitoring.us-east-1.amazonaws.com',
        input: { AlarmName: alarm.name },
      });
    }
    const existing = this.alarms.get(alarm.name);
    this.alarms.set(alarm.name, { definition: structuredClone(alarm), tags: existing ? existing.tags : { ...tags } });
  }

  async deleteAlarms(names: string[]): Promise<void> {
    this.calls.push(`delete ${names.join(',')}`);
    for (const name of names) this.alarms.delete(name);
  }
}
