/**
 * Reads Airflow Variables through the MWAA CLI token (`variables get <key>`), using the deployer's
 * CLI client. `variables get` prints the value and a newline; a missing Variable prints
 * "Variable <key> does not exist" on stderr and nothing on stdout.
 */
import type { MwaaCli } from '../mwaa/cli-client.js';
import type { VariableReader } from './variables.js';

export function mwaaVariableReader(cli: Pick<MwaaCli, 'run'>): VariableReader {
  return {
    async get(key) {
      const { stdout, stderr, exitCode } = await cli.run(['variables', 'get', key]);
      if (/does not exist/i.test(stderr) && stdout.trim() === '') return undefined;
      if (exitCode !== undefined && exitCode !== 0) {
        throw new Error(`\`variables get ${key}\` failed: ${stderr.trim().split('\n').pop() ?? `exit ${exitCode}`}`);
      }
      return stdout.endsWith('\n') ? stdout.slice(0, -1) : stdout;
    },
  };
}
