/** The recorded nvidia-smi outputs of test/fixtures/nvidia-smi (SOURCES.md says where each comes from). */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const NVIDIA_SMI_FIXTURES = resolve(import.meta.dirname, '../fixtures/nvidia-smi');

export interface RecordedServer {
  name: string;
  dir: string;
  /** What `nvidia-smi --query-gpu=... --format=csv,noheader,nounits` printed. */
  query: { code: number; stdout: string; stderr: string };
  /** What plain `nvidia-smi` printed. */
  header: { code: number; stdout: string; stderr: string };
}

export function recordedServers(): RecordedServer[] {
  return readdirSync(NVIDIA_SMI_FIXTURES, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort()
    .map((name) => {
      const dir = join(NVIDIA_SMI_FIXTURES, name);
      const codeFile = join(dir, 'exit-code');
      const code = existsSync(codeFile) ? Number(readFileSync(codeFile, 'utf8').trim()) : 0;
      const read = (file: string) => readFileSync(join(dir, file), 'utf8');
      return {
        name,
        dir,
        query: { code, stdout: read('query.csv'), stderr: '' },
        header: { code, stdout: read('nvidia-smi.txt'), stderr: '' },
      };
    });
}
