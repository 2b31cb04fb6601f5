/**
 * The nvidia-smi reader against every recorded output (test/fixtures/nvidia-smi, sources in
 * SOURCES.md), against what a real shell prints for a missing nvidia-smi, and against output that
 * breaks the documented format in each way one line can.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  compareVersions,
  GPU_QUERY_COMMAND,
  gpuShortfalls,
  gpuSummary,
  HEADER_COMMAND,
  parseGpuQuery,
  parseHeader,
  readGpus,
  type GpuReading,
} from '../../../src/runtime-check/nvidia-smi.js';
import type { GpuExpectation } from '../../../src/config/schema.js';
import { NVIDIA_SMI_FIXTURES, recordedServers } from '../../support/nvidia-smi-fixtures.js';

/** What each recording holds, read off the source by eye: name per GPU, ECC per GPU, MIG per GPU. */
const EXPECTED: Record<string, { summary: string; ecc: Array<number | null>; mig: Array<string | null>; usedMiB: number[] } | RegExp> = {
  'a100-40gb': {
    summary: "2 x NVIDIA A100-SXM4-40GB, driver 580.126.09, CUDA 13.0 (driver's supported)",
    ecc: [0, 0],
    mig: ['disabled', 'disabled'],
    usedMiB: [598, 602],
  },
  'a100-mig': {
    summary: "2 x NVIDIA A100-SXM4-80GB, driver 510.47.03, CUDA 11.6 (driver's supported)",
    ecc: [0, null],
    mig: ['disabled', 'enabled'],
    usedMiB: [23100, 24205],
  },
  a10g: { summary: "1 x NVIDIA A10G, driver 535.247.01, CUDA 12.2 (driver's supported)", ecc: [0], mig: [null], usedMiB: [8722] },
  'ecc-errors': {
    summary: "2 x NVIDIA A100-SXM4-40GB, driver 580.126.09, CUDA 13.0 (driver's supported)",
    ecc: [0, 2],
    mig: ['disabled', 'disabled'],
    usedMiB: [598, 602],
  },
  'gpu-lost': /^a GPU has fallen off the bus: 0000:02:00\.0 \(GPU is lost\. Reboot the system to recover this GPU\)$/,
  'h100-80gb': {
    summary: "2 x NVIDIA H100 80GB HBM3, driver 550.90.07, CUDA 12.4 (driver's supported)",
    ecc: [0, 0],
    mig: ['disabled', 'disabled'],
    usedMiB: [72790, 72790],
  },
  'quadro-rtx4000-no-ecc': {
    summary: "1 x Quadro RTX 4000, driver 535.129.03, CUDA 12.2 (driver's supported)",
    ecc: [null],
    mig: [null],
    usedMiB: [1],
  },
  'titan-xp-no-ecc': { summary: "1 x TITAN Xp, driver 450.57, CUDA 11.0 (driver's supported)", ecc: [null], mig: [null], usedMiB: [7] },
  'v100s-32gb': {
    summary: "1 x Tesla V100S-PCIE-32GB, driver 450.51.05, CUDA 11.0 (driver's supported)",
    ecc: [0],
    mig: [null],
    usedMiB: [4617],
  },
};

const recorded = recordedServers();

describe('the recorded nvidia-smi outputs', () => {
  it('has an expectation for every recording and a recording for every expectation', () => {
    expect(recorded.map((r) => r.name)).toEqual(Object.keys(EXPECTED).sort());
  });

  it.each(recorded.map((r) => [r.name, r] as const))('reads %s', (name, server) => {
    const reading = readGpus(server.query, server.header);
    const expected = EXPECTED[name];
    if (expected instanceof RegExp) {
      expect(reading.ok).toBe(false);
      expect(reading.ok ? '' : reading.reason).toMatch(expected);
      return;
    }
    expect(reading.ok, reading.ok ? '' : reading.reason).toBe(true);
    const value = (reading as { value: GpuReading }).value;
    expect(gpuSummary(value)).toBe(expected?.summary);
    expect(value.gpus.map((g) => g.index)).toEqual(value.gpus.map((_, i) => i));
    expect(value.gpus.map((g) => g.eccUncorrected)).toEqual(expected?.ecc);
    expect(value.gpus.map((g) => g.mig)).toEqual(expected?.mig);
    expect(value.gpus.map((g) => g.memoryUsedMiB)).toEqual(expected?.usedMiB);
    // The query and the table of the same recording agree on what they both show.
    for (const gpu of value.gpus) {
      expect(server.header.stdout).toContain(gpu.busId);
      expect(server.header.stdout).toMatch(new RegExp(`${gpu.memoryUsedMiB}MiB /\\s+${gpu.memoryTotalMiB}MiB`));
    }
  });
});

describe('what the check asks of each recording', () => {
  const reading = (name: string): GpuReading => {
    const server = recorded.find((r) => r.name === name);
    const result = server && readGpus(server.query, server.header);
    if (!result?.ok) throw new Error(`no reading of ${name}`);
    return result.value;
  };

  it('passes GPUs that meet every expectation', () => {
    const expectation = {
      count: 2,
      model: 'A100|H100',
      minMemoryMiB: 40000,
      minDriverVersion: '550.54.15',
      minCudaVersion: '12.4',
      noUncorrectedEcc: true,
      mig: 'disabled' as const,
    };
    expect(gpuShortfalls(expectation, reading('a100-40gb'))).toEqual([]);
    expect(gpuShortfalls(expectation, reading('h100-80gb'))).toEqual([]);
  });

  it('names every shortfall', () => {
    expect(
      gpuShortfalls(
        {
          count: 8,
          model: '^NVIDIA (A100|H100)',
          minMemoryMiB: 16000,
          minDriverVersion: '535.104.05',
          minCudaVersion: '12.2',
          noUncorrectedEcc: true,
        },
        reading('v100s-32gb'),
      ),
    ).toEqual([
      'found 1 GPU, expected 8',
      'driver 450.51.05 is older than the minimum 535.104.05',
      "the driver supports CUDA up to 11.0 (nvidia-smi's header; not the installed toolkit), expected at least 12.2",
      'GPU 0 is "Tesla V100S-PCIE-32GB", expected a name matching /^NVIDIA (A100|H100)/',
    ]);
    expect(gpuShortfalls({ minMemoryMiB: 16000, noUncorrectedEcc: true }, reading('quadro-rtx4000-no-ecc'))).toEqual([
      'GPU 0 has 8192 MiB, expected at least 16000 MiB',
    ]);
  });

  it('fails uncorrected ECC errors unless told not to; cards without ECC pass', () => {
    expect(gpuShortfalls({ noUncorrectedEcc: true }, reading('ecc-errors'))).toEqual([
      'GPU 1 (00000000:10:1D.0) has 2 uncorrected ECC errors since the driver loaded',
    ]);
    expect(gpuShortfalls({ noUncorrectedEcc: false }, reading('ecc-errors'))).toEqual([]);
    expect(gpuShortfalls({ noUncorrectedEcc: true }, reading('titan-xp-no-ecc'))).toEqual([]);
  });

  it('checks the MIG mode of every GPU; a GPU without MIG counts as disabled', () => {
    expect(gpuShortfalls({ noUncorrectedEcc: true, mig: 'enabled' }, reading('a100-mig'))).toEqual([
      'GPU 0 has MIG disabled, expected enabled',
    ]);
    expect(gpuShortfalls({ noUncorrectedEcc: true, mig: 'disabled' }, reading('a10g'))).toEqual([]);
    expect(gpuShortfalls({ noUncorrectedEcc: true, mig: 'enabled' }, reading('a10g'))).toEqual([
      'GPU 0 has MIG unsupported, expected enabled',
    ]);
  });
});

describe('a server without nvidia-smi', () => {
  it('fails with what a real shell printed, said plainly', () => {
    // A real bash with nothing on PATH: what a login shell prints for a command that is not there.
    const empty = mkdtempSync(join(tmpdir(), 'no-nvidia-smi-'));
    const shell = spawnSync('/bin/bash', ['-c', GPU_QUERY_COMMAND], { env: { PATH: empty }, encoding: 'utf8' });
    expect(shell.status).toBe(127);
    const result = parseGpuQuery({ code: shell.status, stdout: shell.stdout, stderr: shell.stderr });
    expect(result).toEqual({
      ok: false,
      reason: expect.stringMatching(
        /^nvidia-smi is not installed on the server \(".*nvidia-smi: command not found"\): install the NVIDIA driver/,
      ),
    });
  });

  it('sends exactly the documented query', () => {
    expect(GPU_QUERY_COMMAND).toBe(
      'nvidia-smi --query-gpu=index,name,memory.total,memory.used,driver_version,ecc.errors.uncorrected.volatile.total,mig.mode.current,pci.bus_id --format=csv,noheader,nounits',
    );
    expect(HEADER_COMMAND).toBe('nvidia-smi');
  });
});

describe('output outside the documented format', () => {
  const good = '0, NVIDIA A10G, 23028, 8722, 535.247.01, 0, [N/A], 00000000:00:1E.0';
  const fields = good.split(', ');
  const withField = (i: number, value: string) => fields.map((f, j) => (j === i ? value : f)).join(', ');

  it.each([
    ['a missing value', fields.slice(1).join(', '), /expected 8 values .* found 7/],
    ['units left in', withField(2, '23028 MiB'), /memory.total "23028 MiB" is not a whole number/],
    [
      'a header line',
      'index, name, memory.total [MiB], memory.used [MiB], driver_version, ecc, mig, pci.bus_id',
      /index "index" is not a whole number/,
    ],
    ['a word for ECC', withField(5, 'Enabled'), /ecc.errors.uncorrected.volatile.total "Enabled" is not a count or \[N\/A\]/],
    ['an unknown MIG mode', withField(6, 'Pending'), /mig.mode.current "Pending"/],
    ['a short bus id', withField(7, '00:1E.0'), /pci.bus_id "00:1E.0" is not a PCI bus id/],
    ['a driver that is not a version', withField(4, 'unknown'), /driver_version "unknown"/],
    ['tab separators', fields.join('\t'), /expected 8 values/],
    ['the same GPU twice', `${good}\n${good}`, /GPU index 0 twice/],
    ['nothing', '', /printed no GPU/],
  ])('refuses %s, quoting what it saw', (_name, stdout, reason) => {
    const result = parseGpuQuery({ code: 0, stdout: `${stdout}\n`, stderr: '' });
    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.reason).toMatch(reason);
  });

  it('refuses a header without the version line, and an exit code it does not know', () => {
    expect(parseHeader({ code: 0, stdout: 'Wed Jul 29 21:51:11 2020\nsomething else\n', stderr: '' })).toEqual({
      ok: false,
      reason:
        'unexpected nvidia-smi output: no "NVIDIA-SMI ... Driver Version: ... CUDA Version: ..." line (first line "Wed Jul 29 21:51:11 2020")',
    });
    expect(
      parseGpuQuery({ code: 9, stdout: '', stderr: "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\n" }),
    ).toEqual({
      ok: false,
      reason: expect.stringMatching(/^the NVIDIA driver is not loaded/),
    });
    expect(parseGpuQuery({ code: 6, stdout: 'No devices were found\n', stderr: '' })).toEqual({
      ok: false,
      reason: 'nvidia-smi finds no GPU (No devices were found)',
    });
    expect(parseGpuQuery({ code: 255, stdout: 'Unknown Error\n', stderr: '' })).toEqual({
      ok: false,
      reason: 'nvidia-smi failed (exit 255): "Unknown Error"',
    });
  });

  it('compares versions numerically', () => {
    expect(compareVersions('535.104.05', '535.129.03')).toBe(-1);
    expect(compareVersions('12.10', '12.9')).toBe(1);
    expect(compareVersions('12.2', '12.2.0')).toBe(0);
  });
});

describe('the verdicts the DAG shares (test/fixtures/nvidia-smi/verdicts.json, also asserted by test/python/dag/test_gpus.py)', () => {
  const verdicts = JSON.parse(readFileSync(join(NVIDIA_SMI_FIXTURES, 'verdicts.json'), 'utf8')) as {
    readings: Record<string, { reading: GpuReading; summary: string } | { refused: string }>;
    shortfalls: Array<{ recording: string; gpus: GpuExpectation; shortfalls: string[] }>;
    malformed: Array<{ name: string; stdout: string; refused: string }>;
  };

  it('reads every recording as recorded there', () => {
    expect(Object.keys(verdicts.readings).sort()).toEqual(recorded.map((r) => r.name));
    for (const server of recorded) {
      const reading = readGpus(server.query, server.header);
      const verdict = verdicts.readings[server.name];
      expect(reading, server.name).toEqual(
        verdict && 'refused' in verdict ? { ok: false, reason: verdict.refused } : { ok: true, value: verdict?.reading },
      );
      if (reading.ok && verdict && 'summary' in verdict) expect(gpuSummary(reading.value)).toBe(verdict.summary);
    }
  });

  it('gives the same shortfalls and refusals', () => {
    for (const testCase of verdicts.shortfalls) {
      const server = recorded.find((r) => r.name === testCase.recording);
      const reading = server && readGpus(server.query, server.header);
      expect(reading?.ok && gpuShortfalls(testCase.gpus, reading.value)).toEqual(testCase.shortfalls);
    }
    for (const testCase of verdicts.malformed) {
      expect(parseGpuQuery({ code: 0, stdout: testCase.stdout, stderr: '' }), testCase.name).toEqual({
        ok: false,
        reason: testCase.refused,
      });
    }
  });
});
