/**
 * What nvidia-smi says about a server's GPUs, read strictly: the query of
 * templates/dag/gpu_cicd_lib/nvidia_smi_query.json (the one definition the DAG's parser shares) in
 * the format NVIDIA documents for `--format=csv,noheader,nounits` (one line per GPU, values joined
 * by ", ", `[N/A]` or `[Not Supported]` for what a GPU does not have), plus the CUDA version from
 * plain `nvidia-smi`'s header, which is the newest CUDA the installed driver supports, not the CUDA
 * toolkit installed on the server. Anything else is an error that quotes what was seen. Pure.
 */
import query from '../../templates/dag/gpu_cicd_lib/nvidia_smi_query.json' with { type: 'json' };
import type { GpuExpectation } from '../config/schema.js';
import { shellJoin } from '../util/shell-quote.js';

export const QUERY_FIELDS: readonly string[] = query.fields;
/** The most either command may print: the check reads no more. */
export const MAX_OUTPUT_BYTES: number = query.maxOutputBytes;

/** The GPU query, every argument quoted. */
export const GPU_QUERY_COMMAND = shellJoin(['nvidia-smi', `--query-gpu=${QUERY_FIELDS.join(',')}`, `--format=${query.format}`]);
/** Plain nvidia-smi: its header is where the driver's CUDA version is printed. */
export const HEADER_COMMAND = shellJoin(['nvidia-smi']);

export interface Gpu {
  index: number;
  name: string;
  memoryTotalMiB: number;
  /** null when nvidia-smi has no value (some virtual GPUs). */
  memoryUsedMiB: number | null;
  driverVersion: string;
  /** Uncorrected ECC errors since the driver loaded; null for a GPU without ECC. */
  eccUncorrected: number | null;
  /** null for a GPU without MIG support. */
  mig: 'enabled' | 'disabled' | null;
  busId: string;
}

export interface GpuReading {
  gpus: Gpu[];
  driverVersion: string;
  /** The newest CUDA the driver supports (header); null when nvidia-smi prints N/A. */
  cudaVersion: string | null;
}

export interface CommandOutput {
  code: number | null;
  stdout: string;
  stderr: string;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

const NOT_AVAILABLE = new Set(query.notAvailable);
const LOST = /^Unable to determine the device handle for GPU ?([0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-9A-Fa-f]): (.+)$/;
const BUS_ID = /^[0-9A-F]{8}:[0-9A-F]{2}:[0-9A-F]{2}\.[0-9A-F]$/;
const VERSION = /^\d{1,4}(\.\d{1,4}){0,3}$/;
const NAME = /^[A-Za-z0-9 ._()/+-]{1,96}$/;
const HEADER = /^\|\s*NVIDIA-SMI\s+(\S+)\s+Driver Version:\s+(\S+)\s+CUDA Version:\s+(\S+(?: \S+)?)\s*\|$/;

/** Why nvidia-smi could not report, when its output says so; undefined when it reported. */
export function nvidiaSmiFailure(output: CommandOutput): string | undefined {
  const lines = `${output.stdout}\n${output.stderr}`
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  const lost = lines.map((line) => LOST.exec(line)).filter((m) => m !== null);
  if (lost.length > 0) {
    const which = lost.map((m) => `${m[1]} (${m[2]})`).join('; ');
    const fellOff = lost.some((m) => /GPU is lost/i.test(m[2] ?? ''));
    return `${fellOff ? 'a GPU has fallen off the bus' : 'nvidia-smi cannot reach a GPU'}: ${which}`;
  }
  const missing = lines.find((line) => /nvidia-smi: (command )?not found|nvidia-smi: No such file or directory/.test(line));
  if (output.code === 127 || missing) {
    // A login shell's rc files may print their own complaints first: quote the line about nvidia-smi.
    const said = missing ?? lines[0] ?? `exit ${output.code}`;
    return `nvidia-smi is not installed on the server (${quote(said)}): install the NVIDIA driver, or remove gpus from this server's config`;
  }
  if (lines.some((line) => line.includes("couldn't communicate with the NVIDIA driver"))) {
    return `the NVIDIA driver is not loaded: nvidia-smi says ${quote(lines[0] ?? '')}`;
  }
  if (lines.some((line) => /^No devices were found/.test(line))) return 'nvidia-smi finds no GPU (No devices were found)';
  if (output.code !== 0) return `nvidia-smi failed (${exitText(output.code)}): ${quote(lines[0] ?? '(no output)')}`;
  return undefined;
}

/** The GPU query's output, one GPU a line. */
export function parseGpuQuery(output: CommandOutput): Parsed<Gpu[]> {
  const failure = nvidiaSmiFailure(output);
  if (failure) return { ok: false, reason: failure };
  const lines = output.stdout.replace(/\r\n/g, '\n').replace(/\n$/, '').split('\n');
  if (lines.length === 1 && lines[0] === '') return { ok: false, reason: 'nvidia-smi printed no GPU' };
  const gpus: Gpu[] = [];
  for (const [number, line] of lines.entries()) {
    const gpu = parseGpuLine(line);
    if (!gpu.ok) return { ok: false, reason: `unexpected nvidia-smi output, line ${number + 1} ${quote(line)}: ${gpu.reason}` };
    if (gpus.some((other) => other.index === gpu.value.index)) {
      return { ok: false, reason: `unexpected nvidia-smi output: GPU index ${gpu.value.index} twice (line ${number + 1})` };
    }
    gpus.push(gpu.value);
  }
  return { ok: true, value: gpus };
}

function parseGpuLine(line: string): Parsed<Gpu> {
  const values = line.split(', ');
  if (values.length !== QUERY_FIELDS.length) {
    return { ok: false, reason: `expected ${QUERY_FIELDS.length} values (${QUERY_FIELDS.join(', ')}), found ${values.length}` };
  }
  const field = Object.fromEntries(QUERY_FIELDS.map((name, i) => [name, values[i] as string]));
  const problems: string[] = [];
  const integer = (name: string, optional: boolean): number | null => {
    const value = field[name] as string;
    if (optional && NOT_AVAILABLE.has(value)) return null;
    if (/^\d{1,9}$/.test(value)) return Number(value);
    problems.push(`${name} ${quote(value)} is not ${optional ? 'a count or [N/A]' : 'a whole number'}`);
    return null;
  };
  const index = integer('index', false);
  const name = field.name as string;
  if (!NAME.test(name)) problems.push(`name ${quote(name)} is not a GPU name`);
  const memoryTotalMiB = integer('memory.total', false);
  const memoryUsedMiB = integer('memory.used', true);
  const driverVersion = field.driver_version as string;
  if (!VERSION.test(driverVersion)) problems.push(`driver_version ${quote(driverVersion)} is not a version`);
  const eccUncorrected = integer('ecc.errors.uncorrected.volatile.total', true);
  const migText = field['mig.mode.current'] as string;
  const mig = migText === 'Enabled' ? 'enabled' : migText === 'Disabled' ? 'disabled' : NOT_AVAILABLE.has(migText) ? null : undefined;
  if (mig === undefined) problems.push(`mig.mode.current ${quote(migText)} is not Enabled, Disabled or [N/A]`);
  const busId = field['pci.bus_id'] as string;
  if (!BUS_ID.test(busId)) problems.push(`pci.bus_id ${quote(busId)} is not a PCI bus id`);
  if (problems.length > 0 || index === null || memoryTotalMiB === null || mig === undefined) {
    return { ok: false, reason: problems.join('; ') };
  }
  return { ok: true, value: { index, name, memoryTotalMiB, memoryUsedMiB, driverVersion, eccUncorrected, mig, busId } };
}

/** The driver and CUDA versions from plain nvidia-smi's header line. */
export function parseHeader(output: CommandOutput): Parsed<{ driverVersion: string; cudaVersion: string | null }> {
  const failure = nvidiaSmiFailure(output);
  if (failure) return { ok: false, reason: failure };
  for (const line of output.stdout.split('\n')) {
    const match = HEADER.exec(line.trim());
    if (!match) continue;
    const [, , driverVersion = '', cuda = ''] = match;
    if (!VERSION.test(driverVersion)) return { ok: false, reason: `unexpected nvidia-smi header ${quote(line.trim())}: driver version` };
    if (VERSION.test(cuda)) return { ok: true, value: { driverVersion, cudaVersion: cuda } };
    if (NOT_AVAILABLE.has(cuda) || cuda === 'Not Found') return { ok: true, value: { driverVersion, cudaVersion: null } };
    return { ok: false, reason: `unexpected nvidia-smi header ${quote(line.trim())}: CUDA version` };
  }
  const first = output.stdout.trim().split('\n')[0] ?? '';
  return {
    ok: false,
    reason: `unexpected nvidia-smi output: no "NVIDIA-SMI ... Driver Version: ... CUDA Version: ..." line (first line ${quote(first)})`,
  };
}

/** Both outputs as one reading: the GPUs, and the versions the header and the GPUs agree on. */
export function readGpus(queryOutput: CommandOutput, headerOutput: CommandOutput): Parsed<GpuReading> {
  const gpus = parseGpuQuery(queryOutput);
  if (!gpus.ok) return gpus;
  const header = parseHeader(headerOutput);
  if (!header.ok) return header;
  const other = gpus.value.find((gpu) => gpu.driverVersion !== header.value.driverVersion);
  if (other) {
    return {
      ok: false,
      reason: `unexpected nvidia-smi output: GPU ${other.index} reports driver ${other.driverVersion}, the header ${header.value.driverVersion}`,
    };
  }
  return { ok: true, value: { gpus: gpus.value, ...header.value } };
}

/** Compares numeric dotted versions: 535.104.05 < 535.129.03, 12.10 > 12.9. */
export function compareVersions(a: string, b: string): number {
  const left = a.split('.').map(Number);
  const right = b.split('.').map(Number);
  for (let i = 0; i < Math.max(left.length, right.length); i += 1) {
    const diff = (left[i] ?? 0) - (right[i] ?? 0);
    if (diff !== 0) return Math.sign(diff);
  }
  return 0;
}

/** Every way the reading falls short of the expectation, each a sentence; empty when it meets it. */
export function gpuShortfalls(expected: GpuExpectation, reading: GpuReading): string[] {
  const out: string[] = [];
  const { gpus } = reading;
  if (expected.count !== undefined && gpus.length !== expected.count) {
    out.push(`found ${gpus.length} GPU${gpus.length === 1 ? '' : 's'}, expected ${expected.count}`);
  }
  if (expected.minDriverVersion && compareVersions(reading.driverVersion, expected.minDriverVersion) < 0) {
    out.push(`driver ${reading.driverVersion} is older than the minimum ${expected.minDriverVersion}`);
  }
  if (expected.minCudaVersion) {
    if (reading.cudaVersion === null) {
      out.push(`nvidia-smi reports no CUDA version (N/A), expected the driver to support CUDA ${expected.minCudaVersion}`);
    } else if (compareVersions(reading.cudaVersion, expected.minCudaVersion) < 0) {
      out.push(
        `the driver supports CUDA up to ${reading.cudaVersion} (nvidia-smi's header; not the installed toolkit), expected at least ${expected.minCudaVersion}`,
      );
    }
  }
  const pattern = expected.model === undefined ? undefined : new RegExp(expected.model);
  for (const gpu of gpus) {
    if (pattern && !pattern.test(gpu.name))
      out.push(`GPU ${gpu.index} is ${quote(gpu.name)}, expected a name matching /${expected.model}/`);
    if (expected.minMemoryMiB !== undefined && gpu.memoryTotalMiB < expected.minMemoryMiB) {
      out.push(`GPU ${gpu.index} has ${gpu.memoryTotalMiB} MiB, expected at least ${expected.minMemoryMiB} MiB`);
    }
    if (expected.noUncorrectedEcc && gpu.eccUncorrected !== null && gpu.eccUncorrected > 0) {
      out.push(`GPU ${gpu.index} (${gpu.busId}) has ${gpu.eccUncorrected} uncorrected ECC errors since the driver loaded`);
    }
    if (expected.mig !== undefined && (gpu.mig ?? 'disabled') !== expected.mig) {
      out.push(`GPU ${gpu.index} has MIG ${gpu.mig ?? 'unsupported'}, expected ${expected.mig}`);
    }
  }
  return out;
}

/** One line about what was found: "2 x NVIDIA A100-SXM4-40GB, driver 580.126.09, CUDA 13.0". */
export function gpuSummary(reading: GpuReading): string {
  const names = new Map<string, number>();
  for (const gpu of reading.gpus) names.set(gpu.name, (names.get(gpu.name) ?? 0) + 1);
  const models = [...names].map(([name, count]) => `${count} x ${name}`).join(', ');
  return `${models}, driver ${reading.driverVersion}, CUDA ${reading.cudaVersion ?? 'N/A'} (driver's supported)`;
}

function quote(text: string): string {
  const shown = text.length > 120 ? `${text.slice(0, 117)}...` : text;
  return JSON.stringify(shown);
}

function exitText(code: number | null): string {
  return code === null ? 'no exit status' : `exit ${code}`;
}
