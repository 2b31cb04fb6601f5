/**
 * The environment's lifecycle: GetEnvironment reads it; UpdateEnvironment validates, flips the
 * status to UPDATING and applies the change in the background (fetch the pinned S3 object
 * versions, stage and import-check plugins, check requirements, swap, restart Airflow), ending
 * AVAILABLE, or ROLLING_BACK then UPDATE_FAILED with LastUpdate.Error and the previous plugins
 * still live. Tests can also put it through MAINTENANCE or CREATING_SNAPSHOT for a while.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { defaultLogging, validateUpdate, type EnvironmentRecord, type UpdateRequest } from './environment.js';
import { ServiceError } from './errors.js';
import { PluginsRejectedError, type PluginsInstaller, type StagedPlugins } from './plugins.js';
import { AirflowNotReadyError } from './readiness.js';
import { RequirementsRejectedError } from './requirements.js';
import { ObjectMissingError, type ObjectStore } from './s3.js';
import type { Clock } from './tokens.js';

export type ControllerEvent =
  | { type: 'update-started'; request: UpdateRequest }
  | { type: 'update-succeeded'; restarted: boolean; durationMs: number }
  | { type: 'update-failed'; errorCode: string; errorMessage: string; durationMs: number }
  | { type: 'status-passing'; status: string; forMs: number };

/** Statuses MWAA passes through on its own schedule, which the stack can imitate on request. */
export const PASSING_STATUSES = ['MAINTENANCE', 'CREATING_SNAPSHOT'] as const;

export interface ControllerDeps {
  store: ObjectStore;
  plugins: Pick<PluginsInstaller, 'stage' | 'activate' | 'discard'>;
  checkRequirements: (body: Buffer) => Promise<unknown>;
  /** Restarts the Airflow processes (they load plugins and configuration at start-up). */
  restartAirflow: (changed: { plugins: boolean; configuration: boolean }) => Promise<void>;
  now: Clock;
  persistPath: string;
  onEvent: (event: ControllerEvent) => void;
  /** How long a failed update stays ROLLING_BACK before UPDATE_FAILED (MWAA restores the previous version). */
  rollingBackMs?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export class EnvironmentController {
  private running: Promise<void> = Promise.resolve();

  constructor(
    private record: EnvironmentRecord,
    private readonly deps: ControllerDeps,
  ) {}

  /** Loads the persisted record when it belongs to the same environment, else uses `fresh`. */
  static loadRecord(persistPath: string, fresh: EnvironmentRecord, now: number): EnvironmentRecord {
    let saved: EnvironmentRecord;
    try {
      saved = JSON.parse(readFileSync(persistPath, 'utf8')) as EnvironmentRecord;
    } catch {
      return fresh;
    }
    if (saved.name !== fresh.name || saved.airflowVersion !== fresh.airflowVersion) return fresh;
    const record: EnvironmentRecord = { ...saved, webserverUrl: fresh.webserverUrl, status: 'CREATING' };
    if (saved.status === 'UPDATING') {
      record.lastUpdate = {
        status: 'FAILED',
        createdAtMs: saved.lastUpdate?.createdAtMs ?? now,
        error: { errorCode: 'UPDATE_INTERRUPTED', errorMessage: 'The control plane stopped during the update.' },
      };
    }
    return record;
  }

  get name(): string {
    return this.record.name;
  }

  snapshot(): EnvironmentRecord {
    return structuredClone(this.record);
  }

  lookup(name: string): EnvironmentRecord {
    if (name !== this.record.name) {
      throw new ServiceError('ResourceNotFoundException', `Environment ${name} was not found.`);
    }
    return this.snapshot();
  }

  setStatus(status: EnvironmentRecord['status']): void {
    this.record.status = status;
    this.persist();
  }

  /** Sets a setting without an update (a test switch: the environment as if created with it). */
  setInertSetting(key: string, value: unknown): void {
    this.record.inertSettings[key] = value;
    this.persist();
  }

  /**
   * Puts a usable environment into `status` for `forMs`, then back to where it was, as MWAA's
   * weekly maintenance or a snapshot does. Updates are refused meanwhile.
   */
  passThrough(status: (typeof PASSING_STATUSES)[number], forMs: number): void {
    const before = this.record.status;
    if (before !== 'AVAILABLE' && before !== 'UPDATE_FAILED') {
      throw new ServiceError(
        'ValidationException',
        `Environment ${this.record.name} is ${before}; it can enter ${status} only from AVAILABLE or UPDATE_FAILED.`,
      );
    }
    this.setStatus(status);
    this.deps.onEvent({ type: 'status-passing', status, forMs });
    this.running = this.running.then(async () => {
      await this.sleep(forMs);
      if (this.record.status === status) this.setStatus(before);
    });
  }

  private sleep(ms: number): Promise<void> {
    return this.deps.sleep ? this.deps.sleep(ms) : new Promise((resolveSleep) => setTimeout(resolveSleep, ms));
  }

  /** Accepts or rejects synchronously; the work continues in the background. */
  async update(name: string, body: unknown): Promise<{ arn: string }> {
    this.lookup(name);
    const request = validateUpdate(body, this.record);
    await this.checkObjectsExist(request);
    // Re-check after the await: two requests may have passed validation concurrently.
    if (this.record.status === 'UPDATING') {
      throw new ServiceError('ValidationException', `Environment ${name} is UPDATING; wait for it to finish.`);
    }
    this.record.status = 'UPDATING';
    this.record.lastUpdate = { status: 'PENDING', createdAtMs: this.deps.now(), source: 'UpdateEnvironment' };
    if (request.workerReplacementStrategy) this.record.lastUpdate.workerReplacementStrategy = request.workerReplacementStrategy;
    this.persist();
    this.deps.onEvent({ type: 'update-started', request });
    this.running = this.apply(request);
    return { arn: this.record.arn };
  }

  /** Resolves when no update is in progress (for shutdown and tests). */
  idle(): Promise<void> {
    return this.running;
  }

  private async checkObjectsExist(request: UpdateRequest): Promise<void> {
    const problems: string[] = [];
    for (const [label, pin] of [
      ['PluginsS3Path', request.plugins],
      ['RequirementsS3Path', request.requirements],
    ] as const) {
      if (pin && !(await this.deps.store.exists(pin.path, pin.version))) {
        problems.push(
          `${label}: s3 object ${pin.path}${pin.version ? ` version ${pin.version}` : ''} does not exist in ${this.record.sourceBucketArn}`,
        );
      }
    }
    if (problems.length > 0) throw new ServiceError('ValidationException', problems.join('; '));
  }

  private async apply(request: UpdateRequest): Promise<void> {
    const started = this.deps.now();
    let staged: StagedPlugins | undefined;
    let activated = false;
    try {
      let pluginsVersion: string | undefined;
      if (request.plugins) {
        const object = await this.deps.store.get(request.plugins.path, request.plugins.version);
        pluginsVersion = object.versionId ?? request.plugins.version;
        staged = await this.deps.plugins.stage(object.body);
      }
      let requirementsVersion: string | undefined;
      if (request.requirements) {
        const object = await this.deps.store.get(request.requirements.path, request.requirements.version);
        requirementsVersion = object.versionId ?? request.requirements.version;
        await this.deps.checkRequirements(object.body);
      }
      if (staged) {
        await this.deps.plugins.activate(staged);
        activated = true;
      }
      const optionsChanged =
        request.airflowConfigurationOptions !== undefined &&
        JSON.stringify(request.airflowConfigurationOptions) !== JSON.stringify(this.record.airflowConfigurationOptions);
      const record = this.record;
      if (request.dagS3Path !== undefined) record.dagS3Path = request.dagS3Path;
      if (request.plugins) {
        record.pluginsS3Path = request.plugins.path;
        record.pluginsS3ObjectVersion = pluginsVersion;
      }
      if (request.requirements) {
        record.requirementsS3Path = request.requirements.path;
        record.requirementsS3ObjectVersion = requirementsVersion;
      }
      if (request.airflowConfigurationOptions) record.airflowConfigurationOptions = request.airflowConfigurationOptions;
      if (request.logging) record.logging = { ...(record.logging ?? defaultLogging()), ...request.logging };
      Object.assign(record.inertSettings, request.inertSettings);
      this.persist();
      // Requirements that the venv already satisfies change nothing at runtime; plugins and
      // configuration are read at process start, so those need a restart.
      const restart = activated || optionsChanged;
      if (restart) await this.deps.restartAirflow({ plugins: activated, configuration: optionsChanged });
      record.status = 'AVAILABLE';
      record.lastUpdate = { ...record.lastUpdate!, status: 'SUCCESS' };
      this.persist();
      this.deps.onEvent({ type: 'update-succeeded', restarted: restart, durationMs: this.deps.now() - started });
    } catch (error) {
      if (staged && !activated) await this.deps.plugins.discard(staged).catch(() => undefined);
      const { errorCode, errorMessage } = describeFailure(error);
      this.record.lastUpdate = { ...this.record.lastUpdate!, status: 'FAILED', error: { errorCode, errorMessage } };
      const rollingBackMs = this.deps.rollingBackMs?.() ?? 0;
      if (rollingBackMs > 0) {
        this.record.status = 'ROLLING_BACK';
        this.persist();
        await this.sleep(rollingBackMs);
      }
      this.record.status = 'UPDATE_FAILED';
      this.persist();
      this.deps.onEvent({ type: 'update-failed', errorCode, errorMessage, durationMs: this.deps.now() - started });
    }
  }

  private persist(): void {
    mkdirSync(dirname(this.deps.persistPath), { recursive: true });
    const tmp = `${this.deps.persistPath}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(this.record, null, 2)}\n`);
    renameSync(tmp, this.deps.persistPath);
  }
}

function describeFailure(error: unknown): { errorCode: string; errorMessage: string } {
  if (error instanceof PluginsRejectedError || error instanceof RequirementsRejectedError || error instanceof AirflowNotReadyError) {
    return { errorCode: error.errorCode, errorMessage: error.message };
  }
  if (error instanceof ObjectMissingError) return { errorCode: 'S3_OBJECT_NOT_FOUND', errorMessage: error.message };
  return { errorCode: 'INTERNAL_ERROR', errorMessage: error instanceof Error ? error.message : String(error) };
}
