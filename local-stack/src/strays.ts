/**
 * Processes of the stack that nothing records any more: every Airflow process the stack starts
 * runs with its AIRFLOW_HOME under the stack root, and some of them leave their parent's process
 * group (Airflow 2's DAG processor manager calls setpgid), so a process that outlives its parent
 * is found by that environment, not by the process tree.
 */
import { commandLine, processesWithEnv } from '../../src/util/processes.js';

export interface StrayProcess {
  pid: number;
  command: string;
}

export function strayProcesses(root: string, recorded: ReadonlySet<number> = new Set()): StrayProcess[] {
  const under = root.endsWith('/') ? root : `${root}/`;
  return processesWithEnv('AIRFLOW_HOME', (home) => home.startsWith(under))
    .filter((pid) => !recorded.has(pid))
    .map((pid) => ({ pid, command: commandLine(pid) ?? '?' }));
}
