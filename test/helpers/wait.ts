// Waiting in tests without hanging: every wait has a deadline, so a regression fails with a message
// instead of running into tap's timeout.

export const pause = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/** Polls `condition` every 5 ms; throws naming `what` when it is still false after timeoutMs. */
export async function waitUntil (condition: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what()}`)
    await pause(5)
  }
}

/**
 * What `promise` settles to, or 'still waiting' when it has not within `ms`. The timer keeps the
 * process alive meanwhile (a promise nothing else holds would let it exit) and is cleared after.
 */
export async function within<T> (ms: number, promise: Promise<T>): Promise<T | 'still waiting'> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<'still waiting'>((resolve) => { timer = setTimeout(resolve, ms, 'still waiting') })
  try {
    return await Promise.race([promise, late])
  } finally {
    clearTimeout(timer)
  }
}

/** A logger that drops everything, for code under test whose logging is not what is checked. */
export const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} }
