/** The error `work` rejects with, and how long that took; a resolution fails the test. */
export async function rejection(work: Promise<unknown>): Promise<Error & { $metadata?: { attempts?: number } }> {
  return (await timedRejection(work)).error;
}

export async function timedRejection(
  work: Promise<unknown>,
): Promise<{ error: Error & { $metadata?: { attempts?: number } }; seconds: number }> {
  const started = performance.now();
  const error = await work.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e as Error,
  );
  return { error, seconds: (performance.now() - started) / 1000 };
}
