/**
 * Time for the emulator. Every Telegram duration (retry delays, the 60 s webhook timeout,
 * update lifetimes, rate-limit windows) is written in Telegram's own seconds and goes through
 * here, so one `timeScale` makes a test run the real schedule a hundred times faster.
 */
export class SandboxClock {
  private readonly timers = new Set<NodeJS.Timeout>()

  constructor (readonly timeScale: number) {
    if (!(timeScale > 0)) throw new RangeError(`timeScale must be > 0, got ${timeScale}`)
  }

  /** Real milliseconds that stand for `seconds` of Telegram time. */
  ms (seconds: number): number {
    return seconds * 1000 * this.timeScale
  }

  now (): number {
    return Date.now()
  }

  /** Runs `fn` after `seconds` of Telegram time; the returned function cancels it. */
  after (seconds: number, fn: () => void): () => void {
    const timer = setTimeout(() => {
      this.timers.delete(timer)
      fn()
    }, this.ms(seconds))
    this.timers.add(timer)
    return () => {
      clearTimeout(timer)
      this.timers.delete(timer)
    }
  }

  sleep (seconds: number): Promise<void> {
    return new Promise((resolve) => { this.after(seconds, resolve) })
  }

  /** Cancels everything still scheduled: nothing the emulator started outlives close(). */
  cancelAll (): void {
    for (const timer of this.timers) clearTimeout(timer)
    this.timers.clear()
  }
}
