/**
 * Processes of the stack that nothing records any more. Every process the stack starts (sshd,
 * moto, the control plane, and through it Airflow and everything Airflow forks) inherits
 * STACK_ROOT_ENV naming the stack's root, and every Airflow process has its AIRFLOW_HOME under
 * the root; some of them leave their parent's process group (Airflow 2's DAG processor manager
 * calls setpgid) or outlive their parent, so they are found by that environment, not by the
 * process tree. Command lines are not searched: a user's editor or `tail -f` on a file under the
 * root is not the stack's.
 */
import { commandLine, processRef, processesWithEnv, type ProcessRef } from './processes.js';

/** Set to the stack's root in the environment of every process the stack starts. */
export const STACK_ROOT_ENV = 'MWAA_LOCAL_STACK_ROOT';

/** `base` plus the mark that lets `down` and `status` find what a process leaves behind. */
export function stackProcessEnv(root: string, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...base, [STACK_ROOT_ENV]: root };
}

export interface StrayProcess {
  pid: number;
  command: string;
  /** Who the PID named when it was found: stopping it later signals only that process. */
  ref?: ProcessRef;
}

/**
 * Processes marked with `root` or a directory below it (so a parent directory of several
 * throw-away roots finds the processes of all of them), other than those in `recorded`.
 */
export function strayProcesses(root: string, recorded: ReadonlySet<number> = new Set()): StrayProcess[] {
  const under = root.endsWith('/') ? root : `${root}/`;
  return processesWithEnv([STACK_ROOT_ENV, 'AIRFLOW_HOME'], (value) => value === root || value.startsWith(under))
    .filter((pid) => !recorded.has(pid))
    .map((pid) => {
      const ref = processRef(pid);
      return { pid, command: commandLine(pid) ?? '?', ...(ref ? { ref } : {}) };
    });
}
