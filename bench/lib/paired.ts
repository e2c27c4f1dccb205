// Paired measurement: two contenders run at the same time, both pinned to CPU 0 (sharing it), each
// loaded by its own wrk on CPU 1. Whatever the neighbours on a shared machine do to CPU 0 then happens
// to both at once, so the per-round ratio of their CPU time per update holds steady where sequential
// runs swing by ±30% from one minute to the next. Used by run.ts (the paired phase) and ab.ts.
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
  /** Medians of the per-round ratios a / b. */
  rpsRatio: number
  cpuRatio: number
  cpuRatioRange: [number, number]
  p99Ratio: number
}

interface Running { side: PairSide, proc: Started, url: string }

export async function runPaired (options: PairOptions): Promise<PairResult> {
  const rounds: PairRound[] = []
  for (let round = 1; round <= options.rounds; round++) {
    // Alternate which side starts first, so neither always gets the warmer start.
    const order = round % 2 === 0 ? [options.b, options.a] : [options.a, options.b]
    const running: Running[] = []
    try {
      for (const side of order) {
        const port = await freePort()
        const tag = `paired-${side.name}.r${round}`
        const proc = startNode(side.script, contenderEnv(port, options.stubUrl, join(options.logDir, `${tag}.stats.json`), side.env), join(options.logDir, `${tag}.log`), options.pin ? 0 : undefined)
        running.push({ side, proc, url: `http://127.0.0.1:${port}/telegram/webhook` })
        await waitForHttp(`http://127.0.0.1:${port}/`, proc, 30_000)
      }
      if (options.warmupS > 0) await Promise.all(running.map(async (r) => await options.load(r.url, options.warmupS)))
      const cpu0 = running.map((r) => cpuTimeUs(r.proc.pid))
      const results = await Promise.all(running.map(async (r) => await options.load(r.url, options.durationS)))
      const measured = running.map((r, i) => {
        const res = results[i] as Awaited<ReturnType<PairLoad>>
        const acked = Math.max(1, res.completed - res.non2xx)
        return { name: r.side.name, rps: acked / (res.durationUs / 1e6), cpuUs: (cpuTimeUs(r.proc.pid) - (cpu0[i] as number)) / acked, p99Ms: res.p99Us / 1000, non2xx: res.non2xx + res.errors }
      })
      const failed = measured.find((m) => m.non2xx > 0)
      if (failed !== undefined) throw new Error(`paired ${failed.name}: ${failed.non2xx} non-2xx answers or errors`)
      const a = measured.find((m) => m.name === options.a.name)
      const b = measured.find((m) => m.name === options.b.name)
      if (a === undefined || b === undefined) throw new Error('paired: a side is missing')
      const r: PairRound = { rpsA: a.rps, rpsB: b.rps, cpuUsA: a.cpuUs, cpuUsB: b.cpuUs, p99MsA: a.p99Ms, p99MsB: b.p99Ms, rpsRatio: a.rps / b.rps, cpuRatio: a.cpuUs / b.cpuUs, p99Ratio: a.p99Ms / b.p99Ms }
      rounds.push(r)
      options.onRound?.(r, round)
    } finally {
      for (const r of running) await stopProcess(r.proc, 120_000)
    }
    await sleep(500)
  }
  const cpu = rounds.map((r) => r.cpuRatio).sort((x, y) => x - y)
  return {
    a: options.a.name,
    b: options.b.name,
    rounds,
    rpsRatio: median(rounds.map((r) => r.rpsRatio)),
    cpuRatio: median(cpu),
    cpuRatioRange: [cpu[0] ?? NaN, cpu.at(-1) ?? NaN],
    p99Ratio: median(rounds.map((r) => r.p99Ratio))
  }
}
