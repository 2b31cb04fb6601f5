/**
 * Reading what may be anything (a device, a FIFO, a huge log, a remote's answer) without trusting
 * its size: at most `maxBytes + 1` bytes are ever held, so `/dev/zero` or a 2 GiB answer costs a
 * megabyte or so, not all memory.
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

/** A stream went past its cap; reading stopped there. */
export class StreamTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`larger than ${byteSize(maxBytes)}`);
    this.name = 'StreamTooLargeError';
  }
}

/** `16 MiB`, `64 KiB`, `512 B`. */
export function byteSize(bytes: number): string {
  if (bytes >= 1024 ** 2 && bytes % 1024 ** 2 === 0) return `${bytes / 1024 ** 2} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} B`;
}

/**
 * All of a stream (a Node Readable or a fetch body), or StreamTooLargeError as soon as it passes
 * `maxBytes`; then the stream is cancelled, so the rest is never read.
 */
export async function readStreamBounded(stream: AsyncIterable<Uint8Array>, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += chunk.length;
    // Leaving the loop cancels the stream (return() on its iterator).
    if (size > maxBytes) throw new StreamTooLargeError(maxBytes);
    chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
  }
  return Buffer.concat(chunks, size);
}

/**
 * The last `keepBytes` of a stream, however long it is (a task log of gigabytes costs one window),
 * and how many bytes came before them.
 */
export async function readStreamTail(stream: AsyncIterable<Uint8Array>, keepBytes: number): Promise<{ tail: Buffer; skipped: number }> {
  let window: Buffer[] = [];
  let held = 0;
  let skipped = 0;
  for await (const chunk of stream) {
    const piece = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    window.push(piece);
    held += piece.length;
    if (held > 2 * keepBytes) {
      // Compact now and then, not per chunk: a copy of the window costs keepBytes.
      const joined = Buffer.concat(window, held);
      const drop = held - keepBytes;
      skipped += drop;
      window = [Buffer.from(joined.subarray(drop))];
      held = keepBytes;
    }
  }
  const all = Buffer.concat(window, held);
  const drop = Math.max(0, held - keepBytes);
  return { tail: all.subarray(drop), skipped: skipped + drop };
}

/** The first `maxBytes` of a stream (for a snippet of an error page), then the stream is cancelled. */
export async function readStreamHead(stream: AsyncIterable<Uint8Array>, maxBytes: number): Promise<{ head: Buffer; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const piece = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    if (size + piece.length > maxBytes) {
      chunks.push(piece.subarray(0, maxBytes - size));
      return { head: Buffer.concat(chunks, maxBytes), truncated: true };
    }
    chunks.push(piece);
    size += piece.length;
  }
  return { head: Buffer.concat(chunks, size), truncated: false };
}
