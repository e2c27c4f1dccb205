// Alternating measurement: both servers of a pair run at once, both on CPU 0 (when pinned), but only
// one is under load at any moment. Short windows go A B, B A, A B, ... (ABBA, so neither side always
// goes first), and each couple of adjacent windows, one per side, gives a ratio. The two windows of a
// couple are seconds apart, so the machine's minute-to-minute drift hits both alike, and, unlike the
// paired phase, neither server shares the core with the other's work while it is measured.
import { loadWindow, pairResult, pairRound, startSide, stopAfterFailure, stopSides, warmUp, type PairOptions, type PairResult, type PairRound, type Running } from './paired.js'

export interface AlternateOptions extends Omit<PairOptions, 'rounds' | 'durationS'> {
  /** Couples of windows, one window per side in each; every other couple starts with b. */
  couples: number
  windowS: number
}

export async function runAlternating (options: AlternateOptions): Promise<PairResult> {
  const running: Running[] = []
  const couples: PairRound[] = []
  try {
    for (const side of [options.a, options.b]) running.push(await startSide(side, `alternate-${side.name}`, options))
    const [a, b] = running as [Running, Running]
    if (options.warmupS > 0) for (const r of running) await warmUp(r, options.load, options.warmupS)
    for (let couple = 1; couple <= options.couples; couple++) {
      const bFirst = couple % 2 === 0
      const first = await loadWindow(bFirst ? b : a, options.load, options.windowS)
      const second = await loadWindow(bFirst ? a : b, options.load, options.windowS)
      const r = pairRound(bFirst ? second : first, bFirst ? first : second)
      couples.push(r)
      options.onRound?.(r, couple)
    }
  } catch (err) {
    await stopAfterFailure(running)
    throw err
  }
  await stopSides(running)
  return pairResult(options.a.name, options.b.name, couples)
}
