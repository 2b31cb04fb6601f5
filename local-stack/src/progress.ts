/** Typed progress of `up`/`down`; the CLI maps these events to output lines. */
export type StackEvent =
  | { kind: 'step-start'; step: string }
  | { kind: 'step-done'; step: string; detail: string; elapsedMs: number; cached: boolean }
  | { kind: 'note'; message: string };

export type ProgressListener = (event: StackEvent) => void;

/** Runs one named step, reporting its start and how long it took. */
export async function step<T extends { detail: string; cached?: boolean }>(
  progress: ProgressListener,
  now: () => number,
  name: string,
  work: () => Promise<T>,
): Promise<T> {
  progress({ kind: 'step-start', step: name });
  const started = now();
  const result = await work();
  progress({ kind: 'step-done', step: name, detail: result.detail, elapsedMs: now() - started, cached: result.cached ?? false });
  return result;
}
