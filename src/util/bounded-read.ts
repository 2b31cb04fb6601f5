/**
 * Reading a file that may be anything (a device, a FIFO, a huge log) without trusting its size:
 * at most `maxBytes + 1` bytes are ever read, so `/dev/zero` costs a megabyte, not all memory.
 */
import { open } from 'node:fs/promises';

export class FileTooLargeError extends Error {
  constructor(
    readonly path: string,
    readonly maxBytes: number,
  ) {
    super(`${path} is larger than ${maxBytes} bytes`);
    this.name = 'FileTooLargeError';
  }
}

export async function readBounded(path: string, maxBytes: number): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(maxBytes + 1);
    let filled = 0;
    while (filled < buffer.length) {
      const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, null);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    if (filled > maxBytes) throw new FileTooLargeError(path, maxBytes);
    return buffer.subarray(0, filled);
  } finally {
    await handle.close();
  }
}
