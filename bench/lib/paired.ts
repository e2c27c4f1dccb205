// Paired measurement: two contenders run at the same time, both pinned to CPU 0 (sharing it), each
// loaded by its own wrk on CPU 1. Whatever the neighbours on a shared machine do to CPU 0 then happens
// to both at once, so the per-round ratio of their CPU time per update holds steady where sequential
// runs swing by up to ±40% from one minute to the next. Used by run.ts (the paired phase) and ab.ts; its
// helpers (start a side, load one window, the ratios of two windows) also serve alternate.ts.
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { cpuTimeUs, freePort, startNode, stopProcess, waitForHttp, type Started } from './proc.js'
import { median } from './report.js'
import { contenderEnv } from './settings.js'
import type { LoadResult } from './node-load.js'

/** Puts load on one server for `seconds` (wrk in a full run, the Node load generator in the smoke). */
export type PairLoad = (url: string, seconds: number) => Promise<Pick<LoadResult, 'completed' | 'non2xx' | 'errors' | 'durationUs' | 'p99Us'>>

export interface PairSide {
  name: string
  /** Absolute path of the compiled contender. */
  script: string
  env: Record<string, string>
}

export interface PairOptions {
  a: PairSide
  b: PairSide
  rounds: number
  durationS: number
  warmupS: number
  stubUrl: string
  logDir: string
  pin: boolean
  load: PairLoad
  onRound?: (round: PairRound, index: number) => void
}

export interface PairRound {
  rpsA: number
  rpsB: number
  cpuUsA: number
  cpuUsB: number
  p99MsA: number
  p99MsB: number
  /** a / b */
  rpsRatio: number
  cpuRatio: number
  p99Ratio: number
}

export interface PairResult {
  a: string
  b: string
  rounds: PairRound[]
  /** Medians of the per-round ratios a / b, and the lowest and highest of them. */
  rpsRatio: number
  rpsRatioRange: [number, number]
  cpuRatio: number
  cpuRatioRange: [number, number]
  p99Ratio: number
  p99RatioRange: [number, number]
}

/** Where the servers of a pair report and whether they are pinned (to CPU 0). */
export type SideSetting = Pick<PairOptions, 'stubUrl' | 'logDir' | 'pin'>

/** A started side of a pair: its server process and webhook URL. */
export interface Running { side: PairSide, proc: Started, url: string }

/** One side's figures over one load window. */
export interface SideWindow { name: string, rps: number, cpuUs: number, p99Ms: number, failed: number }

/** Starts one side's server (on CPU 0 when pinning) and waits until it answers; logs and stats under `tag`. */
export async function startSide (side: PairSide, tag: string, setting: SideSetting): Promise<Running> {
  const port = await freePort()
  const proc = startNode(side.script, contenderEnv(port, setting.stubUrl, join(setting.logDir, `${tag}.stats.json`), side.env), join(setting.logDir, `${tag}.log`), setting.pin ? 0 : undefined)
  try {
    await waitForHttp(`http://127.0.0.1:${port}/`, proc, 30_000)
  } catch (err) {
    await stopProcess(proc, 5000)
    throw err
  }
  return { side, proc, url: `http://127.0.0.1:${port}/telegram/webhook` }
}

/** Stops the sides after a failed window: that failure is the one to report, not a side's exit code. */
export async function stopAfterFailure (running: Running[]): Promise<void> {
  await stopSides(running).catch(() => {})
}

/** SIGTERM each side and wait until it has finished its work and exited; throws when one did not exit 0. */
export async function stopSides (running: Running[]): Promise<void> {
  const codes = await Promise.all(running.map(async (r) => await stopProcess(r.proc, 120_000)))
  const failed = running.flatMap((r, i) => codes[i] === 0 ? [] : [`${r.side.name} exited with code ${String(codes[i])}`])
  if (failed.length > 0) throw new Error(failed.join('; '))
}

/** Warms one side up; throws when it gave a non-2xx answer or an error meanwhile. */
export async function warmUp (r: Running, load: PairLoad, seconds: number): Promise<void> {
  const res = await load(r.url, seconds)
  if (res.non2xx + res.errors > 0) throw new Error(`${r.side.name}: ${res.non2xx + res.errors} non-2xx answers or errors while warming up`)
}

/** Loads one side for `seconds`: its 2xx answers per second and its CPU time per answered update. */
export async function loadWindow (r: Running, load: PairLoad, seconds: number): Promise<SideWindow> {
  const cpu0 = cpuTimeUs(r.proc.pid)
  const res = await load(r.url, seconds)
  const acked = Math.max(1, res.completed - res.non2xx)
  return { name: r.side.name, rps: acked / (res.durationUs / 1e6), cpuUs: (cpuTimeUs(r.proc.pid) - cpu0) / acked, p99Ms: res.p99Us / 1000, failed: res.non2xx + res.errors }
}

/** The ratios a / b of two windows; throws when either side had a non-2xx answer or an error. */
export function pairRound (a: SideWindow, b: SideWindow): PairRound {
  for (const w of [a, b]) if (w.failed > 0) throw new Error(`${w.name}: ${w.failed} non-2xx answers or errors`)
  return { rpsA: a.rps, rpsB: b.rps, cpuUsA: a.cpuUs, cpuUsB: b.cpuUs, p99MsA: a.p99Ms, p99MsB: b.p99Ms, rpsRatio: a.rps / b.rps, cpuRatio: a.cpuUs / b.cpuUs, p99Ratio: a.p99Ms / b.p99Ms }
}

function range (values: number[]): [number, number] {
  return values.length === 0 ? [NaN, NaN] : [Math.min(...values), Math.max(...values)]
}

/** Medians and ranges of the per-round ratios. */
export function pairResult (a: string, b: string, rounds: PairRound[]): PairResult {
  const rps = rounds.map((r) => r.rpsRatio)
  const cpu = rounds.map((r) => r.cpuRatio)
  const p99 = rounds.map((r) => r.p99Ratio)
  return { a, b, rounds, rpsRatio: median(rps), rpsRatioRange: range(rps), cpuRatio: median(cpu), cpuRatioRange: range(cpu), p99Ratio: median(p99), p99RatioRange: range(p99) }
}

export async function runPaired (options: PairOptions): Promise<PairResult> {
  const rounds: PairRound[] = []
  for (let round = 1; round <= options.rounds; round++) {
    // Alternate which side starts first, so neither always gets the warmer start.
    const bFirst = round % 2 === 0
    const running: Running[] = []
    try {
      for (const side of bFirst ? [options.b, options.a] : [options.a, options.b]) running.push(await startSide(side, `paired-${side.name}.r${round}`, options))
      if (options.warmupS > 0) await Promise.all(running.map(async (r) => { await warmUp(r, options.load, options.warmupS) }))
      const [first, second] = await Promise.all(running.map(async (r) => await loadWindow(r, options.load, options.durationS))) as [SideWindow, SideWindow]
      const r = pairRound(bFirst ? second : first, bFirst ? first : second)
      rounds.push(r)
      options.onRound?.(r, round)
    } catch (err) {
      await stopAfterFailure(running)
      throw err
    }
    await stopSides(running)
    if (round < options.rounds) await sleep(500)
  }
  return pairResult(options.a.name, options.b.name, rounds)
}
