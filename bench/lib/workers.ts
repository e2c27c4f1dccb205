// Durable-mode worker processes in the bench (issue 14): start them (contenders/durable-worker.ts),
// wait until each takes jobs, stop them and read what they handled. And the worker-scaling phase:
// with 1, then 2 worker processes waiting, `updates` updates over `chats` chats are stored in one
// transaction (the webhook's own statement, DurableStore.store, once per update), and the run is
// timed from the commit until the last update is marked done.
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { pino } from 'pino'
import type { Update } from 'telegraf/types'
import { DurableStore } from '../../src/durable/store.js'
import type { ContenderStats } from '../contenders/common.js'
import { ANALYZED_TABLES, type BenchDatabase, type BenchPostgres, type DbCounts } from './pg.js'
import { cpuTimeUs, machineCpuUs, startNode, stopProcess, type Started } from './proc.js'
import { median } from './report.js'
import { contenderEnv } from './settings.js'
import { nthUpdate, type Sequence } from './updates.js'

export interface WorkerStats extends ContenderStats {
  worker: { handled: number, failed: number }
}

export interface WorkerSetting {
  /** Absolute path of the compiled contenders/durable-worker.js. */
  script: string
  databaseUrl: string
  stubUrl: string
  logDir: string
  /** Log, stats and ready files are named `<tag>.w<i>.*`. */
  tag: string
  /** BENCH_BOT and the like. */
  env: Record<string, string>
  /** Pin every worker to this CPU; unset: any CPU. */
  cpu?: number
}

export interface RunningWorkers {
  procs: Started[]
  statsFiles: string[]
  logs: string[]
}

const READY_TIMEOUT_MS = 60_000

/** Starts `count` worker processes and resolves once every one of them takes jobs. */
export async function startWorkers (count: number, setting: WorkerSetting): Promise<RunningWorkers> {
  const running: RunningWorkers = { procs: [], statsFiles: [], logs: [] }
  const ready: string[] = []
  for (let i = 1; i <= count; i++) {
    const base = join(setting.logDir, `${setting.tag}.w${i}`)
    const env = contenderEnv(0, setting.stubUrl, `${base}.stats.json`, { ...setting.env, DATABASE_URL: setting.databaseUrl, BENCH_READY_FILE: `${base}.ready` })
    running.procs.push(startNode(setting.script, env, `${base}.log`, setting.cpu))
    running.statsFiles.push(`${base}.stats.json`)
    running.logs.push(`${base}.log`)
    ready.push(`${base}.ready`)
  }
  const deadline = Date.now() + READY_TIMEOUT_MS
  try {
    for (const [i, file] of ready.entries()) {
      const proc = running.procs[i] as Started
      while (!existsSync(file)) {
        if (proc.child.exitCode !== null || proc.child.signalCode !== null) throw new Error(`worker ${i + 1} exited before taking jobs (log: ${running.logs[i]})`)
        if (Date.now() > deadline) throw new Error(`worker ${i + 1} did not start within ${READY_TIMEOUT_MS} ms (log: ${running.logs[i]})`)
        await sleep(50)
      }
    }
  } catch (err) {
    await stopWorkers(running).catch(() => {})
    throw err
  }
  return running
}

/** CPU time of all the workers so far, in microseconds. */
export function workersCpuUs (running: RunningWorkers): number {
  return running.procs.reduce((t, p) => t + cpuTimeUs(p.pid), 0)
}

/** SIGTERM: each finishes its running jobs, reports and exits; throws when one did not exit 0. */
export async function stopWorkers (running: RunningWorkers): Promise<WorkerStats[]> {
  const codes = await Promise.all(running.procs.map(async (p) => await stopProcess(p, 60_000)))
  const bad = codes.flatMap((code, i) => code === 0 ? [] : [`worker ${i + 1} exited with code ${String(code)} (log: ${running.logs[i]})`])
  if (bad.length > 0) throw new Error(bad.join('; '))
  return running.statsFiles.map((f) => JSON.parse(readFileSync(f, 'utf8')) as WorkerStats)
}

/** Problems in what the workers and the database say after a run, empty when none. */
export function workerProblems (stats: WorkerStats[], counts: DbCounts): string[] {
  const problems: string[] = []
  const handled = stats.reduce((n, s) => n + s.worker.handled, 0)
  const failed = stats.reduce((n, s) => n + s.worker.failed, 0)
  if (handled !== counts.done) problems.push(`the workers handled ${handled}, the database has ${counts.done} done`)
  if (failed !== 0 || counts.failed !== 0) problems.push(`${Math.max(failed, counts.failed)} updates failed`)
  if (counts.retried !== 0) problems.push(`${counts.retried} updates handled more than once`)
  if (counts.outOfOrder !== 0) problems.push(`${counts.outOfOrder} updates handled before an earlier one of their chat`)
  return problems
}

export interface ScalingOptions {
  pg: BenchPostgres
  workerScript: string
  /** Worker processes per run, in the order of the first round (e.g. [1, 2]); the next round reverses it. */
  counts: number[]
  rounds: number
  updates: number
  chats: number
  /** Where the update ids start (the chats are the first `chats` users of the sequence). */
  sequence: Sequence
  cpuIterations: number
  /** More environment for the worker processes (a diagnostic: --worker-env). */
  workerEnv: Record<string, string>
  /** ANALYZE the tables in the storing transaction (bench/lib/pg.ts says why). */
  analyze: boolean
  stubUrl: string
  logDir: string
  /** On a pinned run: the cluster may use every CPU here (the workers are not pinned either). */
  pin: boolean
  /** The machine's CPUs (taken before the runner pinned itself to one). */
  cpus: number
  timeoutMs: number
  onRun?: (run: ScalingRun) => void
}

export interface ScalingRun {
  round: number
  workers: number
  updates: number
  /** From the commit that queued the updates until the last was marked done. */
  durationMs: number
  handledPerS: number
  /** Per update, in the timed span: CPU of the worker processes, of PostgreSQL, and of the handlers alone. */
  workerCpuUs: number
  dbCpuUs: number
  handlerCpuUs: number
  /** Share of the machine's CPUs used by workers + PostgreSQL, and by processes outside the bench (a shared machine). */
  cpuPct: number
  othersPct: number
  /** Updates handled by each worker process. */
  split: number[]
  /** The store()s in one transaction, until its commit. */
  storeMs: number
  ok: boolean
  detail: string
}

export interface ScalingResult {
  runs: ScalingRun[]
  /** Per worker count, the median handled/s over rounds. */
  medianPerS: Record<number, number>
  /** Median and range of the per-round ratio handled/s with the last count / with the first. */
  ratio: number
  ratioRange: [number, number]
}

/** The updates a run stores: the bench's mix, from `chats` private chats, ids from `sequence`. */
function updatesFor (options: ScalingOptions, count: number): Update[] {
  const seq: Sequence = { ...options.sequence, users: options.chats }
  return Array.from({ length: count }, (_, n) => JSON.parse(nthUpdate(seq, n).body) as Update)
}

/**
 * Stores every update in one transaction: DurableStore.store on a pool of one connection, between
 * begin and commit. With `analyze`, ANALYZE runs inside it too (it counts the transaction's own
 * rows), so the workers plan their queries for the full tables from the commit on, as they would
 * in a database autovacuum keeps analysed (bench/lib/pg.ts).
 */
async function storeInOneTransaction (databaseUrl: string, updates: Update[], analyze: boolean): Promise<void> {
  const store = new DurableStore(databaseUrl, pino({ level: 'warn' }), { poolSize: 1, name: 'bench-prestore' })
  try {
    await store.pool.query('begin')
    // One connection: the pool hands it to each query in turn, so all of them run inside the
    // transaction. A hundred at a time: a query waits for the connection at most CONNECT_TIMEOUT_MS.
    let stored = 0
    for (let i = 0; i < updates.length; i += 100) {
      const outcomes = await Promise.all(updates.slice(i, i + 100).map(async (u) => await store.store(u)))
      stored += outcomes.filter((o) => o === 'stored').length
    }
    if (stored !== updates.length) throw new Error(`${updates.length - stored} of ${updates.length} updates were taken for duplicates`)
    if (analyze) await store.pool.query(`analyze ${ANALYZED_TABLES.join(', ')}`)
    await store.pool.query('commit')
  } finally {
    await store.close()
  }
}

async function scalingRun (options: ScalingOptions, round: number, workers: number): Promise<ScalingRun> {
  const db: BenchDatabase = await options.pg.database()
  const tag = `workers-${workers}.r${round}`
  let running: RunningWorkers | undefined
  try {
    running = await startWorkers(workers, {
      script: options.workerScript,
      databaseUrl: db.url,
      stubUrl: options.stubUrl,
      logDir: options.logDir,
      tag,
      env: { ...options.workerEnv, BENCH_BOT: 'cpu', BENCH_CPU_ITERATIONS: String(options.cpuIterations) }
    })
    const updates = updatesFor(options, options.updates)
    await options.pg.checkpoint()
    const storeStarted = Date.now()
    await storeInOneTransaction(db.url, updates, options.analyze)
    const committedAt = Date.now()
    const w0 = workersCpuUs(running)
    const d0 = options.pg.cpuTimeUs()
    const all0 = machineCpuUs()
    const self0 = cpuTimeUs('self')
    const deadline = committedAt + options.timeoutMs
    while (await db.finished() < updates.length) {
      if (Date.now() > deadline) throw new Error(`${updates.length - await db.finished()} of ${updates.length} updates still pending after ${options.timeoutMs} ms`)
      await sleep(100)
    }
    const workerUs = workersCpuUs(running) - w0
    const dbUs = options.pg.cpuTimeUs() - d0
    const othersUs = Math.max(0, machineCpuUs() - all0 - workerUs - dbUs - (cpuTimeUs('self') - self0))
    const pollWallUs = (Date.now() - committedAt) * 1000
    const durationMs = await db.lastFinishedAt() - committedAt
    const stats = await stopWorkers(running)
    running = undefined
    const counts = await db.counts()
    const problems = workerProblems(stats, counts)
    if (counts.done !== updates.length) problems.push(`${counts.done} of ${updates.length} done`)
    const split = stats.map((s) => s.worker.handled)
    const n = updates.length
    return {
      round,
      workers,
      updates: n,
      durationMs,
      handledPerS: n / (durationMs / 1000),
      workerCpuUs: workerUs / n,
      dbCpuUs: dbUs / n,
      handlerCpuUs: stats.reduce((t, s) => t + s.handlerCpuUs, 0) / n,
      cpuPct: (workerUs + dbUs) / pollWallUs / options.cpus * 100,
      othersPct: othersUs / pollWallUs / options.cpus * 100,
      split,
      storeMs: committedAt - storeStarted,
      ok: problems.length === 0,
      detail: problems.length === 0 ? `${n} updates over ${options.chats} chats, each handled once, in chat order (split ${split.join('/')})` : problems.join('; ')
    }
  } finally {
    if (running !== undefined) await stopWorkers(running).catch(() => {})
    await db.drop()
  }
}

export async function runWorkerScaling (options: ScalingOptions): Promise<ScalingResult> {
  if (options.pin) options.pg.pin(`0-${options.cpus - 1}`)
  const runs: ScalingRun[] = []
  for (let round = 1; round <= options.rounds; round++) {
    const order = round % 2 === 1 ? options.counts : [...options.counts].reverse()
    for (const workers of order) {
      const r = await scalingRun(options, round, workers)
      runs.push(r)
      options.onRun?.(r)
    }
  }
  const first = options.counts[0] as number
  const last = options.counts[options.counts.length - 1] as number
  const ratios: number[] = []
  for (let round = 1; round <= options.rounds; round++) {
    const a = runs.find((r) => r.round === round && r.workers === last)
    const b = runs.find((r) => r.round === round && r.workers === first)
    if (a !== undefined && b !== undefined) ratios.push(a.handledPerS / b.handledPerS)
  }
  return {
    runs,
    medianPerS: Object.fromEntries(options.counts.map((c) => [c, median(runs.filter((r) => r.workers === c).map((r) => r.handledPerS))])),
    ratio: median(ratios),
    ratioRange: ratios.length === 0 ? [NaN, NaN] : [Math.min(...ratios), Math.max(...ratios)]
  }
}
