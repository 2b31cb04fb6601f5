/**
 * The stack's stand-in `nvidia-smi`: there is no GPU on these machines, so the stack's sshd puts a
 * small script first on every session's PATH that plays a recorded nvidia-smi output (a directory
 * holding query.csv, nvidia-smi.txt and optionally exit-code, as test/fixtures/nvidia-smi/ does).
 *
 * One sshd serves several loopback addresses (SERVER_ADDRESSES), each a GPU server of its own; which
 * recording a server plays is chosen per address (`playGpuRecording`), read by the script from
 * $SSH_CONNECTION's server address at every call, so a choice needs no restart. An address with no
 * choice is a server without nvidia-smi: the script answers as a shell does for a missing command
 * (exit 127). It answers only the exact commands the check and the DAG send.
 */
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import query from '../../templates/dag/gpu_cicd_lib/nvidia_smi_query.json' with { type: 'json' };
import { shellQuote } from '../../src/util/shell-quote.js';

/** The loopback addresses the stack's sshd listens on: 127.0.0.1 is the stack's own server. */
export const SERVER_ADDRESSES: readonly string[] = Array.from({ length: 8 }, (_, i) => `127.0.0.${i + 1}`);

export interface StandInFiles {
  /** Put first on PATH by sshd's SetEnv. */
  binDir: string;
  script: string;
  /** One file per address, holding the recording's directory. */
  choicesDir: string;
}

export function standInFiles(sshDir: string): StandInFiles {
  const binDir = join(sshDir, 'bin');
  return { binDir, script: join(binDir, 'nvidia-smi'), choicesDir: join(sshDir, 'gpus') };
}

/** The script. Pure. */
export function renderStandIn(files: StandInFiles): string {
  const queryArgument = `--query-gpu=${query.fields.join(',')}`;
  const formatArgument = `--format=${query.format}`;
  return [
    '#!/bin/sh',
    '# Stand-in nvidia-smi of the local stack (written by `local up`: local-stack/src/gpu-stand-in.ts).',
    '# Plays the recording chosen for the server address this SSH session reached.',
    `choices=${shellQuote(files.choicesDir)}`,
    'address=$(printf "%s\\n" "$SSH_CONNECTION" | cut -d " " -f 3)',
    'if [ -z "$address" ] || [ ! -f "$choices/$address" ]; then',
    '  echo "nvidia-smi: command not found" >&2',
    '  exit 127',
    'fi',
    'recording=$(cat "$choices/$address")',
    'code=0',
    'if [ -f "$recording/exit-code" ]; then code=$(cat "$recording/exit-code"); fi',
    'if [ "$#" -eq 0 ]; then',
    '  cat "$recording/nvidia-smi.txt"',
    '  exit "$code"',
    'fi',
    `if [ "$#" -eq 2 ] && [ "$1" = ${shellQuote(queryArgument)} ] && [ "$2" = ${shellQuote(formatArgument)} ]; then`,
    '  cat "$recording/query.csv"',
    '  exit "$code"',
    'fi',
    `echo "stand-in nvidia-smi: plays only \\"nvidia-smi\\" and \\"nvidia-smi ${queryArgument} ${formatArgument}\\"" >&2`,
    'exit 2',
    '',
  ].join('\n');
}

/** Writes the script (every `up`: it follows the query of this checkout). */
export function installStandIn(files: StandInFiles): void {
  mkdirSync(files.binDir, { recursive: true });
  mkdirSync(files.choicesDir, { recursive: true });
  writeFileSync(files.script, renderStandIn(files));
  chmodSync(files.script, 0o755);
}

/**
 * Chooses the recording the server at `address` plays (a directory as test/fixtures/nvidia-smi/<name>),
 * or none (null): a server without nvidia-smi. `sshdConfig` is the stack's (state.ssh.sshdConfig).
 */
export function playGpuRecording(sshdConfig: string, address: string, recording: string | null): void {
  if (!SERVER_ADDRESSES.includes(address)) {
    throw new Error(`${address} is not one of the stack's server addresses (${SERVER_ADDRESSES.join(', ')})`);
  }
  const files = standInFiles(dirname(sshdConfig));
  const choice = join(files.choicesDir, address);
  if (recording === null) {
    rmSync(choice, { force: true });
    return;
  }
  if (!isAbsolute(recording)) throw new Error(`the recording must be an absolute directory, got ${recording}`);
  mkdirSync(files.choicesDir, { recursive: true });
  writeFileSync(choice, `${recording}\n`);
}
