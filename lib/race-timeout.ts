/**
 * `work`, or a rejection once `timeoutMs` has passed without its answer: for a call on a client
 * that waits out an outage (a blackholed Redis answers nothing and closes nothing), where the
 * caller has a better answer than waiting (a probe says "down", a check keeps its last value).
 * `work` itself is not cancelled.
 *
 * @example
 * const pauses = await raceTimeout(store.read(), 1000).catch(() => lastRead);
 */
export async function raceTimeout<T>(work: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
