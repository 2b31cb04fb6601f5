/**
 * Where a deploy starts: `runDeployWorkflow`, for the CLI's `deploy` (src/cli/commands/deploy.ts)
 * and the API's `plan` and `deploy` (src/api.ts) alike. It composes the layers below it, none of
 * which knows the others: generate the artifacts (src/generator), plan against the environment
 * and apply with the lock released however the process is stopped, trigger and follow the run
 * (src/deployer), and, when the run succeeded, smoke-check the GPU servers (src/runtime-check).
 * It alone decides the exit code of the whole. The CLI only parses arguments and renders the
 * events and the result; a program runs the same workflow through the API.
 */
import { awsErrorContext } from '../config/aws-error-context.js';
import type { ResolvedConfig } from '../config/resolved.js';
import { s3Port } from '../deployer/aws-ports.js';
import { systemClock, type Clock } from '../deployer/clock.js';
import { deploy, type DeployDeps, type DeployResult } from '../deployer/deploy.js';
import { DeployProgress, withProgress } from '../deployer/done-so-far.js';
import { planDiffs, type ArtifactDiff } from '../deployer/diff.js';
import type { DeployEvent } from '../deployer/events.js';
import { defaultDeployOptions, deployDeps, deploySettings, deployTargets } from '../deployer/from-config.js';
import type { DeployLock } from '../deployer/lock.js';
import type { Plan } from '../deployer/plan.js';
import { ExitCode, UserError } from '../errors.js';
import { dagBuildTag } from '../generator/artifact.js';
import { generateEnvironment, writeEnvironment, type GeneratedEnvironment } from '../generator/generate.js';
import { explainRemoteError } from '../mwaa/aws-errors.js';
import { callerArn } from '../mwaa/caller-identity.js';
import { createAwsClients, type AwsClients } from '../mwaa/clients.js';
import type { CheckReport } from '../runtime-check/index.js';
import { processIdentity } from '../util/processes.js';

export interface DeployRequest {
  config: ResolvedConfig;
  toolVersion: string;
  /** Where the generated artifacts are written too (not with planOnly). */
  outDir: string;
  planOnly: boolean;
  /** With planOnly: also read the deployed objects and diff them against the new ones. */
  diff?: boolean;
  /** With planOnly: exit ExitCode.changesPending (3) when the plan changes anything. */
  detailedExitCode?: boolean;
  rollback: boolean;
  /** With rollback: the record to restore (its id, hash or key); without it, one step back. */
  rollbackTo?: string;
  trigger: boolean;
  waitForRun: boolean;
  waitForAvailable: boolean;
  /** After a successful run, check the servers (the runtime check with Variables). */
  smoke: boolean;
  timeoutMs: number;
  conf: Record<string, string>;
  /** Apply without asking. */
  yes: boolean;
}

export type WorkflowEvent =
  | DeployEvent
  | { type: 'smoke-started' }
  | {
      type: 'interrupted';
      signal: NodeJS.Signals;
      /** Whether a deploy lock is held (and now released); a plan never takes one. */
      lockHeld: boolean;
    };

export interface WorkflowHooks {
  emit: (event: WorkflowEvent) => void;
  /** Asks the user a yes/no question; undefined when nobody can answer (no terminal). */
  ask?: (question: string) => Promise<boolean>;
  who: DeployDeps['who'];
  /**
   * Ends the process after SIGINT/SIGTERM, once the deploy lock is released (the CLI exits 130 or
   * 143). Without it the signal is raised again with the default action.
   */
  exitOnSignal?: (signal: NodeJS.Signals) => void;
  clients?: AwsClients;
  clock?: Clock;
}

export interface WorkflowResult {
  result: DeployResult;
  /** With diff: the content change of each write in the plan. */
  diffs?: ArtifactDiff[];
  smoke?: CheckReport;
  /**
   * What the whole deploy ends with: ok; failure when the run or the smoke check failed;
   * changesPending for a plan with changes under detailedExitCode.
   */
  exitCode: number;
}

/**
 * The DAG tag that only this build of the DAG (its config and its library) carries, when the
 * generated DAG declares one: the deployer waits for a parsed DAG with it before it triggers (the
 * new DAG is live).
 */
export function dagMarker(generated: GeneratedEnvironment): string | undefined {
  const marker = dagBuildTag(generated.manifest);
  const dag = generated.artifacts.find((a) => a.kind === 'dag');
  return dag?.bytes.includes(marker) ? marker : undefined;
}

/** Who deploys, as deploy records and the lock name them. */
export function currentDeployer(user: string, host: string): DeployDeps['who'] {
  const who: DeployDeps['who'] = { user, host, pid: process.pid, identity: processIdentity() };
  if (process.env.AWS_PROFILE) who.awsProfile = process.env.AWS_PROFILE;
  return who;
}

/** Asks before changing anything: --yes answers for the user; without a terminal it is a usage error. */
export function confirmer(request: Pick<DeployRequest, 'yes' | 'config'>, ask: WorkflowHooks['ask']): (plan: Plan) => Promise<boolean> {
  return async (plan) => {
    if (request.yes) return true;
    if (!ask) {
      throw new UserError(
        `${plan.changes} change(s) pending and no terminal to confirm them: re-run with --yes to apply (or --plan to only look).`,
        ExitCode.usage,
      );
    }
    return ask(`Apply ${plan.changes} change(s) to ${request.config.mwaa.environmentName}?`);
  };
}

/**
 * Runs `body` with SIGINT/SIGTERM handlers that release the deploy lock, if one is held, and then
 * end the process as the signal asks.
 */
async function releasingLockOnSignal<T>(
  hooks: Pick<WorkflowHooks, 'emit' | 'exitOnSignal'>,
  body: (onLock: (lock: DeployLock | undefined) => void) => Promise<T>,
): Promise<T> {
  const { emit } = hooks;
  let held: DeployLock | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    emit({ type: 'interrupted', signal, lockHeld: held !== undefined });
    void (held ? held.release() : Promise.resolve())
      .catch(() => undefined)
      .finally(() => {
        remove();
        if (hooks.exitOnSignal) hooks.exitOnSignal(signal);
        else process.kill(process.pid, signal);
      });
  };
  const remove = () => {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await body((lock) => {
      held = lock;
    });
  } finally {
    remove();
  }
}

/**
 * `who` with the IAM identity the credentials belong to, for the deploy record. A failure to learn
 * it (no STS endpoint reachable, say) costs the record that field only, with a warning: the deploy
 * itself does not depend on it.
 */
async function withCallerArn(
  who: DeployDeps['who'],
  sts: AwsClients['sts'],
  emit: (event: WorkflowEvent) => void,
): Promise<DeployDeps['who']> {
  try {
    return { ...who, arn: await callerArn(sts) };
  } catch (error) {
    emit({
      type: 'warning',
      message: `Could not learn the caller's IAM identity (STS GetCallerIdentity): ${(error as Error).message.split('\n')[0]}. The deploy record names the local user only.`,
    });
    return who;
  }
}

export async function runDeployWorkflow(request: DeployRequest, hooks: WorkflowHooks): Promise<WorkflowResult> {
  const { config } = request;
  const clients = hooks.clients ?? createAwsClients(config);
  // Only a deploy writes a record; a plan does not ask who it is.
  const [generated, who] = await Promise.all([
    generateEnvironment(config, request.toolVersion),
    request.planOnly ? hooks.who : withCallerArn(hooks.who, clients.sts, hooks.emit),
  ]);
  if (!request.planOnly) await writeEnvironment(request.outDir, generated);
  const options = {
    ...defaultDeployOptions(config, request.timeoutMs, dagMarker(generated)),
    planOnly: request.planOnly,
    rollback: request.rollback,
    ...(request.rollbackTo !== undefined ? { rollbackTo: request.rollbackTo } : {}),
    trigger: request.trigger,
    waitForRun: request.waitForRun,
    waitForAvailable: request.waitForAvailable,
    conf: request.conf,
  };
  // What the deploy did so far, for a failure part-way through.
  const progress = new DeployProgress();
  const emit = (event: WorkflowEvent) => {
    if (event.type !== 'smoke-started' && event.type !== 'interrupted') progress.observe(event);
    hooks.emit(event);
  };
  const explain = (error: unknown) => explainRemoteError(error, awsErrorContext(config));
  // The runtime check afterwards reads the Variables through the same web login (or CLI fallback).
  const deps = deployDeps(config, clients, hooks.clock ?? systemClock, emit, who);
  let result: DeployResult;
  try {
    result = await releasingLockOnSignal({ ...hooks, emit }, (onLock) =>
      deploy(deploySettings(config, generated, request.toolVersion), deployTargets(generated), options, {
        ...deps,
        onLock,
        confirm: confirmer(request, hooks.ask),
      }),
    );
  } catch (error) {
    throw withProgress(explain(error), progress, config.mwaa.bucket);
  }

  if (request.planOnly) {
    const planned: WorkflowResult = { result, exitCode: deployExitCode(request, result) };
    if (request.diff && result.remote) {
      try {
        planned.diffs = await planDiffs(s3Port(clients.s3), config.mwaa.bucket, result.plan.actions, result.remote);
      } catch (error) {
        throw explain(error);
      }
    }
    return planned;
  }
  const outcome: WorkflowResult = { result, exitCode: deployExitCode(request, result) };
  if (result.runState === 'success' && request.smoke) {
    hooks.emit({ type: 'smoke-started' });
    const { runRuntimeCheck } = await import('../runtime-check/index.js');
    try {
      outcome.smoke = await runRuntimeCheck(config, { compareVariables: true, aws: clients, variableReader: deps.airflow });
    } catch (error) {
      throw explain(error);
    }
    outcome.exitCode = deployExitCode(request, result, outcome.smoke);
  }
  return outcome;
}

/**
 * How a deploy that did not throw ends: a plan exits ok, or changesPending (3) when it changes
 * anything and detailedExitCode asks; a deploy exits failure when its run ended other than in
 * success or the smoke check afterwards failed, else ok. (A refused plan and a failed step throw:
 * their UserError carries the code.)
 */
export function deployExitCode(
  request: Pick<DeployRequest, 'planOnly' | 'detailedExitCode'>,
  result: Pick<DeployResult, 'plan' | 'runState'>,
  smoke?: Pick<CheckReport, 'ok'>,
): number {
  if (request.planOnly) return request.detailedExitCode === true && result.plan.changes > 0 ? ExitCode.changesPending : ExitCode.ok;
  if (result.runState !== undefined && result.runState !== 'success') return ExitCode.failure;
  if (smoke && !smoke.ok) return ExitCode.failure;
  return ExitCode.ok;
}
