// The side-by-side benchmark of issue 5. Each contender runs as its own process pinned to CPU 0; the
// load (wrk, 100 keep-alive connections) and the Bot API stub run on CPU 1. Per round and contender:
// start, wait until it answers, warm up, let the bot finish the warm-up's work, measure, SIGTERM
// (the contender finishes what it took and reports CPU time, peak RSS and what it handled).
// The durable contenders (issue 14) store each update in a throwaway PostgreSQL cluster the run
// starts (on CPU 0 with the server, by default), and the worker phase times 1 and 2 worker processes.
//
//   npm run bench                 full run: wrk, 5 rounds of 6 s per contender, table + JSON
//   npm run bench:smoke           CI: Node load, a few hundred updates per contender, no timings
//                                 asserted; exits 1 unless every answer was 2xx and every update
//                                 was handled exactly once
//   node dist/bench/bench/run.js --help
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { availableParallelism, cpus, loadavg } from 'node:os'
import { basename, dirname, join, relative, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import type { StubStats } from './bot-api-stub.js'
import type { ContenderStats } from './contenders/common.js'
import { runNodeLoad, runPacedLoad, type LoadResult } from './lib/node-load.js'
import { canPin, userCpuTimeUs, cpuTicksPerCpu, cpuTimeUs, cpuUsageBetween, exitedChildrenCpuUs, freePort, killStartedOnSignals, machineCpuUs, peakRssKb, pinSelf, rssKb, startNode, stopProcess, waitForHttp, type Started } from './lib/proc.js'
import { runAlternating } from './lib/alternate.js'
import { runPaired, type PairLoad, type PairOptions, type PairResult, type PairRound, type PairSide } from './lib/paired.js'
import { FLOOR, formatBaseline, formatPaced, formatPairs, formatSummary, formatTargets, judgeTargets, summarize, type PacedSample, type Sample } from './lib/report.js'
import { BENCH_DIR, newLogDir, RESULTS_DIR, ROOT, stamp } from './lib/paths.js'
import { contenderEnv, SECRET } from './lib/settings.js'
import { UpdateIds } from './lib/updates.js'
import { hasWrk, runWrk } from './lib/wrk.js'
import { calibrateCpuWork } from './lib/cpu-work.js'
import { BenchPostgres, type BenchDatabase, type DbCounts } from './lib/pg.js'
import { formatDurable, formatScaling, judgeDurableTargets, type DurableSample } from './lib/durable-report.js'
import { runWorkerScaling, startWorkers, stopWorkers, workerProblems, workersCpuUs, type RunningWorkers, type ScalingResult, type WorkerStats } from './lib/workers.js'
import type { BenchBot } from './contenders/common.js'

const HERE = dirname(fileURLToPath(import.meta.url))

type BotKind = 'none' | BenchBot

interface Contender {
  name: string
  /** Compiled entry, relative to this file's folder. */
  script: string
  bot: BotKind
  env: Record<string, string>
  about: string
  /**
   * Durable mode: the service gets a fresh database of the run's cluster and TELEGRAM_RUN_WORKER=false;
   * `workers` worker processes (contenders/durable-worker.ts, on CPU 1 when pinned) run `bot` meanwhile.
   */
  durable?: { workers: number, bot: BenchBot }
  /** In the smoke unless false. */
  smoke?: boolean
  /** No paced phase when false: a bot slower than the paced rate only queues it up. */
  paced?: boolean
}

/** The worker phase's name for --only. */
const WORKER_PHASE = 'durable-workers'
/** --only durable: issue 14's contenders and the worker phase, with the in-memory ones they are set against. */
const DURABLE_GROUP = ['ingress-noop', 'ingress-slow-budget0', 'ingress-cpu-budget0', 'durable-noop', 'durable-drain-noop', 'durable-drain-cpu', 'durable-drain-slow', WORKER_PHASE]

const CONTENDERS: Contender[] = [
  { name: FLOOR, script: 'contenders/bare-fastify.js', bot: 'none', env: {}, about: 'Fastify route: parse JSON, check the secret, 200 (the floor)' },
  { name: 'naive-telegraf', script: 'contenders/naive-telegraf.js', bot: 'noop', env: { BENCH_BOT: 'noop' }, about: 'Fastify route awaiting bot.handleUpdate, no checks (the RSS reference)' },
  { name: 'ingress-noop', script: 'contenders/ingress.js', bot: 'noop', env: { BENCH_BOT: 'noop' }, about: 'this service, a bot that does nothing' },
  { name: 'ingress-slow', script: 'contenders/ingress.js', bot: 'slow', env: { BENCH_BOT: 'slow' }, about: 'this service, a bot replying through a Bot API answering after 50 ms, default budget (5000 ms)' },
  { name: 'ingress-slow-budget0', script: 'contenders/ingress.js', bot: 'slow', env: { BENCH_BOT: 'slow', TELEGRAM_HANDLER_BUDGET_MS: '0' }, about: 'the same with TELEGRAM_HANDLER_BUDGET_MS=0: ack first' },
  { name: 'ingress-cpu-budget0', script: 'contenders/ingress.js', bot: 'cpu', env: { BENCH_BOT: 'cpu', TELEGRAM_HANDLER_BUDGET_MS: '0' }, smoke: false, paced: false, about: 'this service in memory, a bot spending about 1 ms of CPU per update, budget 0 (issue 14\'s contrast)' },
  { name: 'durable-noop', script: 'contenders/ingress.js', bot: 'none', env: {}, durable: { workers: 0, bot: 'noop' }, about: 'durable mode: the 200 after the update\'s row and job are committed; no worker (the ack path alone)' },
  { name: 'durable-drain-noop', script: 'contenders/ingress.js', bot: 'noop', env: {}, durable: { workers: 1, bot: 'noop' }, smoke: false, about: 'durable mode, one worker process running a bot that does nothing' },
  { name: 'durable-drain-cpu', script: 'contenders/ingress.js', bot: 'cpu', env: {}, durable: { workers: 1, bot: 'cpu' }, smoke: false, about: 'durable mode, one worker process running the 1 ms CPU bot' },
  { name: 'durable-drain-slow', script: 'contenders/ingress.js', bot: 'slow', env: {}, durable: { workers: 1, bot: 'slow' }, about: 'durable mode, one worker process running the slow bot (sendMessage answered after 50 ms)' }
]

/** --baseline adds, after each of this service's contenders, the same one built from another copy, named with this suffix. */
const BASELINE_SUFFIX = '-base'
// Not the durable or cpu contenders: a baseline built before issue 14 has neither.
const isService = (c: Contender): boolean => c.script === 'contenders/ingress.js' && c.durable === undefined && c.bot !== 'cpu'

function withBaseline (dir: string | undefined): Contender[] {
  if (dir === undefined) return CONTENDERS
  const script = resolve(dir, 'bench', 'contenders', 'ingress.js')
  if (!existsSync(script)) throw new Error(`--baseline: ${script} does not exist (copy a built dist/bench there)`)
  return CONTENDERS.flatMap((c) => isService(c)
    ? [c, { ...c, name: c.name + BASELINE_SUFFIX, script, about: `${c.name} built from ${basename(resolve(dir))} (A/B baseline)` }]
    : [c])
}

const HELP = `usage: node dist/bench/bench/run.js [options]   (npm run bench -- [options])
  --smoke              CI check: Node load, --requests per contender, exit 1 unless all 2xx and handled once
  --rounds N           rounds, each running every contender once (default 5; smoke 1; 0 = none)
  --duration S         measured seconds per contender and round (default 6)
  --warmup S           warm-up seconds before each measurement (default 2; smoke 0)
  --connections N      concurrent keep-alive connections (default 100; smoke 10)
  --requests N         smoke: updates per contender (default 300)
  --only a,b           only these contenders (${CONTENDERS.map((c) => c.name).join(', ')})
                       and phases (${WORKER_PHASE}); "durable" stands for issue 14's set: ${DURABLE_GROUP.join(', ')}
  --loadgen wrk|node   default wrk when installed (full run), node for the smoke
  --users N            distinct users (private chats) the updates come from (default 1000)
  --latency MS         the Bot API stub's sendMessage latency (default 50)
  --rate N             paced phase: updates/s sent on a fixed schedule after the saturation phase, and in the paced
                       alternating phase (default 1000; 0 = neither)
  --paced S            paced phase seconds (default 5; smoke 1)
  --cpu-prof           run contenders with node --cpu-prof (profiles in bench/results/profiles/)
  --max-others PCT     measure a contender again when other processes used more than PCT% of a CPU in its
                       window (a shared machine; default 15), up to --retries times (default 2), keeping the quietest
  --paired N           paired phase: rounds in which ingress-noop runs at the same time as naive-telegraf (issue 12's
                       target), then as bare-fastify, and with --baseline as ingress-noop-base, sharing CPU 0 (steady
                       ratios on a noisy machine; default 6, smoke 1, 0 = none)
  --alternate N        alternating phase: the same pairs, both servers up on CPU 0 but loaded one at a time, N couples
                       of short windows in the order A B, B A, A B, ... (default 10, smoke 1, 0 = none)
  --alternate-window S seconds of one alternating window (default 2; the smoke sends --requests per window)
  --paced-alternate N  paced alternating phase: ingress-slow-budget0 and ingress-noop both up on CPU 0, each sent
                       --rate updates/s in turn for --paced seconds, N couples (default 10, smoke 1, 0 = none): the
                       budget-0 ack latency in a steady state, away from the saturation phase's aftermath
  --baseline DIR       A/B: also run each ingress-* contender from another compiled copy of the bench, as ingress-*-base
                       (e.g. dist/bench-base, made with cp -r dist/bench dist/bench-base before a change), in the same rounds
durable mode (issue 14; needs PostgreSQL's server binaries, else skipped with a line saying so):
  --pg-fsync on|off    the throwaway cluster's fsync and full_page_writes (default on: commits reach the disk)
  --pg-analyze on|off  ANALYZE graphile-worker's tables after the warm-up, as autovacuum does in a running database
                       (default on; off shows what a fresh database's plans cost as the backlog grows, bench/lib/pg.ts)
  --pg-cpu LIST|all    CPUs the cluster runs on while a durable contender is measured (default 0, the server's;
                       the worker phase always lets it use all)
  --durable-rate N     the durable-noop contender's paced phase, updates/s (default 1500, issue 14's goal; smoke 200)
  --cpu-us N           the cpu bot's CPU time per update, calibrated once per run (default 1000)
  --worker-rounds N    worker phase: rounds of 1 then 2 worker processes (order alternating; default 3, smoke 1, 0 = none)
  --worker-updates N   worker phase: updates stored in one transaction before the clock starts (default 5000; smoke 200)
  --worker-chats N     worker phase: the chats they come from (default 500; smoke 20)
  --worker-env K=V,..  more environment for every worker process, a diagnostic (e.g. WORKER_LOST_AFTER_MS=1000, which
                       also makes graphile-worker poll every 166 ms instead of 2 s; WORKER_CONCURRENCY=1)`

interface Options {
  smoke: boolean
  rounds: number
  durationS: number
  warmupS: number
  connections: number
  requests: number
  only: string[] | undefined
  loadgen: 'wrk' | 'node' | undefined
  users: number
  latencyMs: number
  rate: number
  pacedS: number
  cpuProf: boolean
  baseline: string | undefined
  maxOthersPct: number
  retries: number
  paired: number
  alternate: number
  alternateWindowS: number
  pacedAlternate: number
  pgFsync: boolean
  pgAnalyze: boolean
  /** undefined: any CPU. */
  pgCpu: string | undefined
  durableRate: number
  cpuUs: number
  workerRounds: number
  workerUpdates: number
  workerChats: number
  workerEnv: Record<string, string>
}

function parseOptions (): Options {
  const { values } = parseArgs({
    options: {
      smoke: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      requests: { type: 'string' },
      only: { type: 'string' },
      loadgen: { type: 'string' },
      users: { type: 'string' },
      latency: { type: 'string' },
      rate: { type: 'string' },
      paced: { type: 'string' },
      'cpu-prof': { type: 'boolean', default: false },
      baseline: { type: 'string' },
      'max-others': { type: 'string' },
      retries: { type: 'string' },
      paired: { type: 'string' },
      alternate: { type: 'string' },
      'alternate-window': { type: 'string' },
      'paced-alternate': { type: 'string' },
      'pg-fsync': { type: 'string' },
      'pg-analyze': { type: 'string' },
      'pg-cpu': { type: 'string' },
      'durable-rate': { type: 'string' },
      'cpu-us': { type: 'string' },
      'worker-rounds': { type: 'string' },
      'worker-updates': { type: 'string' },
      'worker-chats': { type: 'string' },
      'worker-env': { type: 'string' },
      help: { type: 'boolean', default: false }
    }
  })
  if (values.help === true) {
    console.log(HELP)
    process.exit(0)
  }
  const smoke = values.smoke === true
  const num = (value: string | undefined, fallback: number, name: string): number => {
    if (value === undefined) return fallback
    const n = Number(value)
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a non-negative number`)
    return n
  }
  // wrk takes whole seconds only (runWrk checks it too; here it fails before the run starts).
  const seconds = (value: string | undefined, fallback: number, name: string): number => {
    const n = num(value, fallback, name)
    if (!Number.isInteger(n)) throw new Error(`--${name} must be a whole number of seconds`)
    return n
  }
  const only = values.only?.split(',').map((s) => s.trim()).filter((s) => s !== '').flatMap((s) => s === 'durable' ? DURABLE_GROUP : [s])
  const known = [...withBaseline(values.baseline).map((c) => c.name), WORKER_PHASE]
  const unknown = only?.filter((name) => !known.includes(name))
  if (unknown !== undefined && unknown.length > 0) throw new Error(`unknown contender(s): ${unknown.join(', ')} (the -base ones need --baseline)`)
  if (values.loadgen !== undefined && values.loadgen !== 'wrk' && values.loadgen !== 'node') throw new Error('--loadgen must be wrk or node')
  for (const name of ['pg-fsync', 'pg-analyze'] as const) {
    if (values[name] !== undefined && values[name] !== 'on' && values[name] !== 'off') throw new Error(`--${name} must be on or off`)
  }
  const workerEnv: Record<string, string> = {}
  for (const pair of (values['worker-env'] ?? '').split(',').filter((p) => p !== '')) {
    const [key, ...value] = pair.split('=')
    if (key === undefined || !/^[A-Z_][A-Z0-9_]*$/.test(key) || value.length === 0) throw new Error(`--worker-env: ${pair} is not KEY=VALUE`)
    workerEnv[key] = value.join('=')
  }
  const pgCpu = values['pg-cpu'] ?? '0'
  if (pgCpu !== 'all' && !/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(pgCpu)) throw new Error('--pg-cpu must be a CPU list such as 0 or 0-1, or all')
  return {
    smoke,
    rounds: num(values.rounds, smoke ? 1 : 5, 'rounds'),
    durationS: Math.max(1, seconds(values.duration, 6, 'duration')),
    warmupS: seconds(values.warmup, smoke ? 0 : 2, 'warmup'),
    connections: Math.max(1, num(values.connections, smoke ? 10 : 100, 'connections')),
    requests: Math.max(1, num(values.requests, 300, 'requests')),
    only,
    loadgen: values.loadgen as Options['loadgen'],
    users: Math.max(1, num(values.users, 1000, 'users')),
    latencyMs: num(values.latency, 50, 'latency'),
    rate: num(values.rate, smoke ? 200 : 1000, 'rate'),
    pacedS: num(values.paced, smoke ? 1 : 5, 'paced'),
    cpuProf: values['cpu-prof'] === true,
    baseline: values.baseline,
    maxOthersPct: num(values['max-others'], 15, 'max-others'),
    retries: smoke ? 0 : num(values.retries, 2, 'retries'),
    paired: num(values.paired, smoke ? 1 : 6, 'paired'),
    alternate: num(values.alternate, smoke ? 1 : 10, 'alternate'),
    alternateWindowS: Math.max(1, seconds(values['alternate-window'], 2, 'alternate-window')),
    pacedAlternate: num(values['paced-alternate'], smoke ? 1 : 10, 'paced-alternate'),
    pgFsync: values['pg-fsync'] !== 'off',
    pgAnalyze: values['pg-analyze'] !== 'off',
    pgCpu: pgCpu === 'all' ? undefined : pgCpu,
    durableRate: num(values['durable-rate'], smoke ? 200 : 1500, 'durable-rate'),
    cpuUs: Math.max(1, num(values['cpu-us'], 1000, 'cpu-us')),
    workerRounds: num(values['worker-rounds'], smoke ? 1 : 3, 'worker-rounds'),
    workerUpdates: Math.max(1, num(values['worker-updates'], smoke ? 200 : 5000, 'worker-updates')),
    workerChats: Math.max(1, num(values['worker-chats'], smoke ? 20 : 500, 'worker-chats')),
    workerEnv
  }
}

async function httpJson<T> (method: 'GET' | 'POST', url: string): Promise<T> {
  return await new Promise((resolve, reject) => {
    const req = request(url, { method, agent: false, timeout: 5000 }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { text += chunk })
      res.on('end', () => {
        try {
          resolve(JSON.parse(text) as T)
        } catch (err) {
          reject(err)
        }
      })
    })
    req.on('timeout', () => { req.destroy(new Error(`${url}: no answer`)) })
    req.on('error', reject)
    req.end()
  })
}

/** Waits until the stub has no sendMessage pending and its reply count stopped moving. */
async function untilBotIdle (stubUrl: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last = -1
  while (Date.now() < deadline) {
    const stats = await httpJson<StubStats>('GET', `${stubUrl}/__bench/stats`)
    if (stats.inFlight === 0 && stats.replies === last) return
    last = stats.replies
    await sleep(250)
  }
  throw new Error(`the bot was still replying after ${timeoutMs} ms`)
}

interface Run {
  options: Options
  loadgen: 'wrk' | 'node'
  pin: boolean
  stubUrl: string
  stubPid: number
  logDir: string
  ids: UpdateIds
  /** The durable contenders' cluster; undefined when none runs. */
  pg: BenchPostgres | undefined
  /** The cpu bot's steps per update (bench/lib/cpu-work.ts), the same for every process of the run. */
  cpuIterations: number
}

type Load = Omit<LoadResult, 'ackedIds'> & { ackedIds?: number[] }

async function applyLoad (run: Run, url: string, seconds: number): Promise<Load> {
  const { options } = run
  if (run.loadgen === 'wrk') {
    return await runWrk({ url, secret: SECRET, connections: options.connections, durationS: seconds, sequence: run.ids.next(seconds), benchDir: BENCH_DIR, scratchDir: run.logDir, ...(run.pin && { cpu: 1 }) })
  }
  return await runNodeLoad({
    url,
    secret: SECRET,
    connections: options.connections,
    sequence: run.ids.next(seconds),
    ...(options.smoke ? { requests: options.requests } : { durationMs: seconds * 1000 })
  })
}

/** What the contender handled, set against what the load sent and got answered. */
function checkHandled (contender: Contender, loads: Load[], stats: ContenderStats, stub: StubStats): { ok: boolean, detail: string } {
  const sent = loads.reduce((n, l) => n + l.sent, 0)
  const acked = loads.reduce((n, l) => n + l.completed - l.non2xx, 0)
  const problems: string[] = []
  const ingress = stats.ingress as { accepted: number, duplicates: number, failed: number, inFlight: number } | undefined
  // Requests still on the wire when the load stopped may have been taken but not answered.
  const within = (n: number): boolean => n >= acked && n <= sent
  if (!within(stats.handled)) problems.push(`handled ${stats.handled}, expected between ${acked} acked and ${sent} sent`)
  if (ingress !== undefined) {
    if (ingress.accepted !== stats.handled) problems.push(`ingress accepted ${ingress.accepted} but the bot finished ${stats.handled}`)
    if (ingress.duplicates !== 0) problems.push(`${ingress.duplicates} updates taken for duplicates`)
    if (ingress.failed !== 0) problems.push(`${ingress.failed} handlers failed`)
    if (ingress.inFlight !== 0) problems.push(`${ingress.inFlight} updates unfinished at exit`)
  }
  if (contender.bot === 'slow') {
    if (stub.distinctUpdates !== stats.handled) problems.push(`Bot API got replies for ${stub.distinctUpdates} updates, the bot finished ${stats.handled}`)
    if (stub.duplicateUpdates !== 0) problems.push(`${stub.duplicateUpdates} updates replied to more than once`)
    if (stub.replies !== stub.distinctUpdates) problems.push(`${stub.replies} replies for ${stub.distinctUpdates} updates`)
    const ackedIds = loads.flatMap((l) => l.ackedIds ?? [])
    if (loads.every((l) => l.ackedIds !== undefined) && stub.ids !== undefined) {
      const replied = new Set(stub.ids)
      const missing = ackedIds.filter((id) => !replied.has(id))
      if (missing.length > 0) problems.push(`${missing.length} acked updates never handled (first: ${missing[0]})`)
    }
  }
  const detail = problems.length > 0
    ? problems.join('; ')
    : `sent ${sent}, acked ${acked}, handled ${stats.handled}${contender.bot === 'slow' ? `, replies ${stub.replies} for ${stub.distinctUpdates} distinct updates over ${stub.connections} connections (at most ${stub.maxInFlight} at once)` : ''}`
  return { ok: problems.length === 0, detail }
}

/** What the durable contender's webhook, its workers, the database and the stub say, set against what the load sent. */
interface DurableEnd {
  db: DbCounts
  /** Every stored update_id, when the loads know which ids were acknowledged (the Node load generator). */
  dbIds: number[] | undefined
  workers: WorkerStats[]
  /** The smoke waits until the workers have handled everything before stopping them. */
  drained: boolean
}

function checkDurable (contender: Contender, loads: Load[], stats: ContenderStats, end: DurableEnd, stub: StubStats): { ok: boolean, detail: string } {
  const sent = loads.reduce((n, l) => n + l.sent, 0)
  const acked = loads.reduce((n, l) => n + l.completed - l.non2xx, 0)
  const problems: string[] = []
  const ingress = stats.ingress as { stored: number, duplicates: number, unavailable: number, inFlight: number } | undefined
  if (ingress === undefined) return { ok: false, detail: 'the contender reported no ingress stats' }
  if (ingress.stored < acked || ingress.stored > sent) problems.push(`stored ${ingress.stored}, expected between ${acked} acked and ${sent} sent`)
  if (ingress.duplicates !== 0) problems.push(`${ingress.duplicates} updates taken for duplicates (an id sent twice?)`)
  if (ingress.unavailable !== 0) problems.push(`${ingress.unavailable} updates refused: the database failed`)
  if (ingress.inFlight !== 0) problems.push(`${ingress.inFlight} commits unfinished at exit`)
  if (stats.handled !== 0) problems.push(`the web process ran the bot on ${stats.handled} updates (TELEGRAM_RUN_WORKER=false)`)
  if (end.db.rows !== ingress.stored) problems.push(`the database holds ${end.db.rows} updates, the webhook stored ${ingress.stored}`)
  if (end.dbIds !== undefined) {
    const stored = new Set(end.dbIds)
    const missing = loads.flatMap((l) => l.ackedIds ?? []).filter((id) => !stored.has(id))
    if (missing.length > 0) problems.push(`${missing.length} acked updates not in the database (first: ${missing[0]})`)
  }
  const handled = end.workers.reduce((n, w) => n + w.worker.handled, 0)
  if (contender.durable?.workers === 0 && end.db.pending !== end.db.rows) problems.push(`${end.db.rows - end.db.pending} updates handled with no worker running`)
  problems.push(...workerProblems(end.workers, end.db))
  if (end.drained && end.db.done !== end.db.rows) problems.push(`${end.db.rows - end.db.done} updates left unhandled after the drain`)
  if (contender.durable?.bot === 'slow' && end.workers.length > 0) {
    if (stub.distinctUpdates !== handled) problems.push(`Bot API got replies for ${stub.distinctUpdates} updates, the workers handled ${handled}`)
    if (stub.duplicateUpdates !== 0) problems.push(`${stub.duplicateUpdates} updates replied to more than once`)
    if (stub.replies !== stub.distinctUpdates) problems.push(`${stub.replies} replies for ${stub.distinctUpdates} updates`)
    if (end.drained && stub.ids !== undefined && end.dbIds !== undefined) {
      const replied = new Set(stub.ids)
      const unreplied = end.dbIds.filter((id) => !replied.has(id))
      if (unreplied.length > 0) problems.push(`${unreplied.length} stored updates never replied to (first: ${unreplied[0]})`)
    }
  }
  const detail = problems.length > 0
    ? problems.join('; ')
    : `sent ${sent}, acked ${acked}, stored ${ingress.stored} (${end.db.rows} rows)` +
      (end.workers.length > 0 ? `, workers handled ${handled} meanwhile${end.drained ? ' (all, after a drain)' : ''}, each once, in chat order` : ', none handled (no worker)')
  return { ok: problems.length === 0, detail }
}

/** Resolves once the stored updates stopped growing for 300 ms (at most 30 s). */
async function settled (db: BenchDatabase): Promise<void> {
  const deadline = Date.now() + 30_000
  let last = -1
  for (let n = await db.stored(); n !== last && Date.now() < deadline; n = await db.stored()) {
    last = n
    await sleep(300)
  }
}

/** How long a started contender is left alone before its idle RSS is read. */
const IDLE_SETTLE_MS = 1000
/** The smoke's drain: the workers finish every stored update before they are stopped. */
const DRAIN_TIMEOUT_MS = 120_000

async function measure (run: Run, contender: Contender, round: number): Promise<Sample> {
  const { options } = run
  await httpJson('POST', `${run.stubUrl}/__bench/reset`)
  const port = await freePort()
  const tag = `${contender.name}.r${round}`
  const statsFile = join(run.logDir, `${tag}.stats.json`)
  const { durable } = contender
  const pg = run.pg
  if (durable !== undefined && pg === undefined) throw new Error('a durable contender without the run\'s PostgreSQL')
  let db: BenchDatabase | undefined
  if (pg !== undefined && durable !== undefined) {
    await pg.checkpoint()
    db = await pg.database()
  }
  const env = contenderEnv(port, run.stubUrl, statsFile, {
    ...contender.env,
    BENCH_CPU_ITERATIONS: String(run.cpuIterations),
    ...(db !== undefined && { DATABASE_URL: db.url, TELEGRAM_RUN_WORKER: 'false' })
  })
  const nodeArgs = options.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${join(RESULTS_DIR, 'profiles')}`, `--cpu-prof-name=${tag}.${Date.now()}.cpuprofile`] : []
  const proc: Started = startNode(resolve(HERE, contender.script), env, join(run.logDir, `${tag}.log`), run.pin ? 0 : undefined, nodeArgs)
  let workers: RunningWorkers | undefined
  try {
    // The service migrates its database before it listens; the workers find the tables there.
    await waitForHttp(`http://127.0.0.1:${port}/`, proc, 30_000)
    if (db !== undefined && durable !== undefined && durable.workers > 0) {
      workers = await startWorkers(durable.workers, {
        script: resolve(HERE, 'contenders/durable-worker.js'),
        databaseUrl: db.url,
        stubUrl: run.stubUrl,
        logDir: run.logDir,
        tag,
        env: { ...options.workerEnv, BENCH_BOT: durable.bot, BENCH_CPU_ITERATIONS: String(run.cpuIterations) },
        ...(run.pin && { cpu: 1 })
      })
    }
    // With workers, the bot is never idle in a window: they work through the warm-up's backlog while
    // the saturation phase measures the acks, which is the state issue 14 asks about.
    const botIdle = async (): Promise<void> => { if (workers === undefined) await untilBotIdle(run.stubUrl, 300_000) }
    // Idle: started (start-up calls done, one GET answered), settled for a moment, no update yet.
    await sleep(IDLE_SETTLE_MS)
    const idleKb = rssKb(proc.pid)
    const url = `http://127.0.0.1:${port}/telegram/webhook`
    const loads: Load[] = []
    if (options.warmupS > 0) loads.push(await applyLoad(run, url, options.warmupS))
    if (db !== undefined && options.pgAnalyze) await db.analyze()
    await botIdle()

    // Saturation: as many updates as the server answers, 100 at a time.
    // Everything the benchmark itself runs: the server, the stub, this runner and wrk (a child
    // that has exited by the end), and for the durable contenders PostgreSQL and the workers. The
    // rest of the machine's CPU time is other people's work.
    const dbCpu = (): number => pg === undefined || db === undefined ? 0 : pg.cpuTimeUs()
    const workerCpu = (): number => workers === undefined ? 0 : workersCpuUs(workers)
    const ours = (): number => cpuTimeUs(proc.pid) + cpuTimeUs(run.stubPid) + cpuTimeUs('self') + exitedChildrenCpuUs() + dbCpu() + workerCpu()
    const finished0 = workers === undefined || db === undefined ? 0 : await db.finished()
    const ours0 = ours()
    const all0 = machineCpuUs()
    const cpu0 = cpuTimeUs(proc.pid)
    const user0 = userCpuTimeUs(proc.pid)
    const db0 = dbCpu()
    const workers0 = workerCpu()
    const machine0 = cpuTicksPerCpu()
    const wall0 = performance.now()
    const load = await applyLoad(run, url, options.durationS)
    const loadEndedAt = Date.now()
    const wallUs = (performance.now() - wall0) * 1000
    const cpuWindowUs = cpuTimeUs(proc.pid) - cpu0
    const userWindowUs = userCpuTimeUs(proc.pid) - user0
    const dbWindowUs = dbCpu() - db0
    const workersWindowUs = workerCpu() - workers0
    const perCpu = cpuUsageBetween(machine0, cpuTicksPerCpu())
    const othersCpuPct = Math.max(0, (machineCpuUs() - all0) - (ours() - ours0)) / wallUs * 100
    const finishedInWindow = workers === undefined || db === undefined ? 0 : await db.finished() - finished0
    loads.push(load)
    // Then until the bot has replied to every update it took (budget 0 acks before that).
    await botIdle()
    const afterSaturation = await httpJson<StubStats>('GET', `${run.stubUrl}/__bench/stats`)
    const finishMs = workers === undefined ? Math.max(0, afterSaturation.lastReplyAt - loadEndedAt) : NaN
    const cpuInclFinishUs = cpuTimeUs(proc.pid) - cpu0
    const hwmKb = peakRssKb(proc.pid)

    // Paced: a fixed rate the slow bot can keep up with, to compare ack latency where the CPU is
    // not already spent on the bot's own Bot API calls. Durable contenders: the rate of issue 14's
    // goal, each update given Telegram's 60 s to be answered; with workers, none (their question
    // is the saturated ack rate, and the Node load generator would share CPU 1 with a busy worker).
    let paced: PacedSample | undefined
    const rate = durable === undefined ? options.rate : options.durableRate
    if (rate > 0 && options.pacedS > 0 && workers === undefined && contender.paced !== false) {
      const cpuP0 = cpuTimeUs(proc.pid)
      const p = await runPacedLoad({ url, secret: SECRET, rate, durationMs: options.pacedS * 1000, connections: options.connections, sequence: run.ids.next(options.pacedS), ...(durable !== undefined && { timeoutMs: 60_000 }) })
      const cpuPacedUs = cpuTimeUs(proc.pid) - cpuP0
      loads.push(p)
      await botIdle()
      paced = { rate, sent: p.sent, acked: p.completed - p.non2xx, p50Ms: p.p50Us / 1000, p99Ms: p.p99Us / 1000, maxMs: p.maxUs / 1000, serverCpuPct: cpuPacedUs / p.durationUs * 100 }
    }

    // The requests the load left behind are committed before SIGTERM: the service's shutdown closes
    // its database pool while stores still wait for a connection, and those answer 503 after
    // CONNECT_TIMEOUT_MS (src/server.ts closes the app and drains the ingress at the same time).
    if (db !== undefined) await settled(db)
    const code = await stopProcess(proc, 330_000)
    if (code !== 0) throw new Error(`exited with code ${code} after SIGTERM`)
    const stats = JSON.parse(readFileSync(statsFile, 'utf8')) as ContenderStats
    let handled: { ok: boolean, detail: string }
    let durableSample: DurableSample | undefined
    if (db !== undefined) {
      const drained = options.smoke && workers !== undefined
      if (drained && workers !== undefined) {
        const deadline = Date.now() + DRAIN_TIMEOUT_MS
        while ((await db.counts()).pending > 0 && Date.now() < deadline) await sleep(200)
      }
      const workerStats = workers === undefined ? [] : await stopWorkers(workers)
      workers = undefined
      const withIds = loads.every((l) => l.ackedIds !== undefined)
      const stub = await httpJson<StubStats>('GET', `${run.stubUrl}/__bench/stats${withIds ? '?ids=1' : ''}`)
      const end: DurableEnd = { db: await db.counts(), dbIds: withIds ? await db.ids() : undefined, workers: workerStats, drained }
      handled = checkDurable(contender, loads, stats, end, stub)
      durableSample = {
        dbCpuUsPerUpdate: dbWindowUs / Math.max(1, load.completed - load.non2xx),
        dbCpuPct: dbWindowUs / wallUs * 100,
        workers: durable?.workers ?? 0,
        workerCpuPct: workersWindowUs / wallUs * 100,
        workerHandledPerS: finishedInWindow / (wallUs / 1e6),
        pgCpu: options.pgCpu ?? 'all',
        fsync: options.pgFsync
      }
    } else {
      const stub = await httpJson<StubStats>('GET', `${run.stubUrl}/__bench/stats${loads.every((l) => l.ackedIds !== undefined) ? '?ids=1' : ''}`)
      handled = checkHandled(contender, loads, stats, stub)
    }
    const acked = load.completed - load.non2xx
    const durationS = load.durationUs / 1e6
    return {
      contender: contender.name,
      round,
      sent: load.sent,
      completed: load.completed,
      non2xx: loads.reduce((n, l) => n + l.non2xx, 0),
      errors: loads.reduce((n, l) => n + l.errors, 0),
      rps: acked / durationS,
      p50Ms: load.p50Us / 1000,
      p90Ms: load.p90Us / 1000,
      p99Ms: load.p99Us / 1000,
      maxMs: load.maxUs / 1000,
      cpuUsPerUpdate: cpuWindowUs / Math.max(1, acked),
      cpuUsPerUpdateInclFinish: cpuInclFinishUs / Math.max(1, acked),
      userCpuUsPerUpdate: userWindowUs / Math.max(1, acked),
      serverCpuPct: cpuWindowUs / wallUs * 100,
      cpuBusyPct: perCpu.map((c) => Math.round(c.busyPct)),
      cpuStealPct: perCpu.map((c) => Math.round(c.stealPct)),
      othersCpuPct,
      peakRssMb: hwmKb / 1024,
      idleRssMb: idleKb / 1024,
      finishMs,
      loopDelayMaxMs: stats.loopDelayMaxMs,
      ...(paced !== undefined && { paced }),
      ...(durableSample !== undefined && { durable: durableSample }),
      handledOk: handled.ok,
      handledDetail: handled.detail
    }
  } finally {
    if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGKILL')
    if (workers !== undefined) await stopWorkers(workers).catch(() => {})
    await db?.drop().catch(() => {})
  }
}

/**
 * The pairs measured side by side (bench/lib/paired.ts, alternate.ts): issue 12's throughput target
 * (this service against the naive route), the ratio to the floor (reported), and with --baseline
 * this build against the baseline's. A pair runs only when both its contenders are selected.
 */
const PAIRS: Array<[string, string]> = [['ingress-noop', 'naive-telegraf'], ['ingress-noop', FLOOR], ['ingress-noop', 'ingress-noop' + BASELINE_SUFFIX]]
/** The pair behind the budget-0 latency target, measured at the paced rate. */
const PACED_PAIRS: Array<[string, string]> = [['ingress-slow-budget0', 'ingress-noop']]

type PairMeasure = (common: Omit<PairOptions, 'rounds' | 'durationS'>) => Promise<PairResult>

/** Measures each of `pairs` whose two contenders were selected; a pair that fails is recorded in `failures`. */
async function forEachPair (run: Run, selected: Contender[], failures: string[], phase: string, unit: string, measure: PairMeasure, pairs = PAIRS, load: PairLoad = async (url, seconds) => await applyLoad(run, url, seconds)): Promise<PairResult[]> {
  const results: PairResult[] = []
  const side = (c: Contender): PairSide => ({ name: c.name, script: resolve(HERE, c.script), env: c.env })
  for (const [aName, bName] of pairs) {
    const a = selected.find((c) => c.name === aName)
    const b = selected.find((c) => c.name === bName)
    if (a === undefined || b === undefined) continue
    const onRound = (r: PairRound, i: number): void => {
      console.log(`  ${unit}${i} ${a.name} ${Math.round(r.rpsA)} updates/s ${r.cpuUsA.toFixed(1)} us/upd | ${b.name} ${Math.round(r.rpsB)} updates/s ${r.cpuUsB.toFixed(1)} us/upd | ratio updates/s ${r.rpsRatio.toFixed(3)} CPU/upd ${r.cpuRatio.toFixed(3)} p99 ${r.p99Ratio.toFixed(2)} (${r.p99MsA.toFixed(1)}/${r.p99MsB.toFixed(1)} ms)`)
    }
    try {
      results.push(await measure({ a: side(a), b: side(b), warmupS: run.options.warmupS, stubUrl: run.stubUrl, logDir: run.logDir, pin: run.pin, load, onRound }))
    } catch (err) {
      failures.push(`${phase} ${a.name} / ${b.name}: ${err instanceof Error ? err.message : String(err)}`)
    }
  }
  return results
}

async function pairedPhase (run: Run, selected: Contender[], failures: string[]): Promise<PairResult[]> {
  const { paired: rounds, durationS } = run.options
  if (rounds < 1) return []
  if (!run.options.smoke && run.loadgen !== 'wrk') {
    // Two loads from this one process would share its event loop, which then sets both sides' pace.
    console.log('paired phase skipped: it needs wrk')
    return []
  }
  return await forEachPair(run, selected, failures, 'paired', 'r', async (common) => {
    console.log(`paired: ${common.a.name} and ${common.b.name} at the same time on CPU 0, ${rounds} rounds`)
    return await runPaired({ ...common, rounds, durationS })
  })
}

/** One alternating window: a duration, or in the smoke a count of updates. */
function alternateWindow (options: Options): string {
  return options.smoke ? `${options.requests} updates` : `${options.alternateWindowS} s`
}

async function alternatingPhase (run: Run, selected: Contender[], failures: string[]): Promise<PairResult[]> {
  const { alternate: couples, alternateWindowS: windowS } = run.options
  if (couples < 1) return []
  return await forEachPair(run, selected, failures, 'alternating', 'c', async (common) => {
    console.log(`alternating: ${common.a.name} and ${common.b.name} both up on CPU 0, one loaded at a time, ${couples} couples of windows of ${alternateWindow(run.options)}`)
    return await runAlternating({ ...common, couples, windowS })
  })
}

/**
 * The budget-0 bot against the no-op one at the paced rate, in turns: both warmed by the paced load
 * only, so neither window follows a saturation phase (after one, the budget-0 server collects the
 * garbage of hundreds of replies that were in flight, and the sequential paced figure shows it).
 */
async function pacedAlternatingPhase (run: Run, selected: Contender[], failures: string[]): Promise<PairResult[]> {
  const { pacedAlternate: couples, pacedS: windowS, rate, connections } = run.options
  if (couples < 1 || rate <= 0 || windowS <= 0) return []
  const load: PairLoad = async (url, seconds) => {
    const result = await runPacedLoad({ url, secret: SECRET, rate, durationMs: seconds * 1000, connections, sequence: run.ids.next(seconds) })
    // This window's replies are all answered before the other side's window starts.
    await untilBotIdle(run.stubUrl, 30_000)
    return result
  }
  return await forEachPair(run, selected, failures, 'paced alternating', 'c', async (common) => {
    console.log(`paced alternating: ${common.a.name} and ${common.b.name} both up on CPU 0, ${rate} updates/s to one at a time, ${couples} couples of ${windowS} s windows`)
    return await runAlternating({ ...common, couples, windowS })
  }, PACED_PAIRS, load)
}

/**
 * Issue 14's worker phase: the CPU-bound bot on 1 and on 2 worker processes (not pinned, nor is the
 * cluster: two workers need both CPUs), each run timed from the commit that queued its updates
 * until the last is done. A failed run fails the phase.
 */
async function workerPhaseRun (run: Run, pg: BenchPostgres, cpus: number, failures: string[]): Promise<ScalingResult | undefined> {
  const { workerRounds: rounds, workerUpdates: updates, workerChats: chats } = run.options
  const extra = Object.entries(run.options.workerEnv).map(([k, v]) => `${k}=${v}`).join(' ')
  console.log(`worker phase: ${updates} updates over ${chats} chats stored in one transaction, then handled by 1 or 2 worker processes (cpu bot, ${extra === '' ? 'WORKER_* defaults' : extra}), ${rounds} rounds`)
  try {
    const result = await runWorkerScaling({
      pg,
      workerScript: resolve(HERE, 'contenders/durable-worker.js'),
      counts: [1, 2],
      rounds,
      updates,
      chats,
      sequence: run.ids.next(1),
      cpuIterations: run.cpuIterations,
      workerEnv: run.options.workerEnv,
      analyze: run.options.pgAnalyze,
      stubUrl: run.stubUrl,
      logDir: run.logDir,
      pin: run.pin,
      cpus,
      timeoutMs: 120_000 + updates * 20,
      onRun: (r) => {
        console.log(`  r${r.round} ${r.workers} worker${r.workers > 1 ? 's' : ''}: ${Math.round(r.handledPerS)} updates/s (${r.durationMs.toFixed(0)} ms)  per update: workers ${r.workerCpuUs.toFixed(0)} us CPU (handler ${r.handlerCpuUs.toFixed(0)}), PostgreSQL ${r.dbCpuUs.toFixed(0)} us  CPUs ${r.cpuPct.toFixed(0)}% busy (others ${r.othersPct.toFixed(0)}%)  stored in ${r.storeMs} ms  ${r.ok ? 'ok' : 'FAILED'}: ${r.detail}`)
        if (!r.ok) failures.push(`worker phase r${r.round}, ${r.workers} workers: ${r.detail}`)
      }
    })
    return result
  } catch (err) {
    failures.push(`worker phase: ${err instanceof Error ? err.message : String(err)}`)
    return undefined
  }
}

async function main (): Promise<number> {
  const options = parseOptions()
  const contenders = withBaseline(options.baseline)
  let selected = contenders.filter((c) => options.only === undefined ? (!options.smoke || c.smoke !== false) : options.only.includes(c.name))
  let workerPhase = options.workerRounds > 0 && (options.only === undefined || options.only.includes(WORKER_PHASE))
  if (selected.length === 0 && !workerPhase) throw new Error('no contender selected')
  // Issue 14's measurements need PostgreSQL's server binaries; without them they are left out, saying so.
  const wantsPg = workerPhase || selected.some((c) => c.durable !== undefined)
  const noPg = wantsPg ? BenchPostgres.unavailable() : undefined
  if (noPg !== undefined) {
    console.log(`durable mode (issue 14): SKIPPED, ${noPg}: ${[...selected.filter((c) => c.durable !== undefined).map((c) => c.name), ...(workerPhase ? [WORKER_PHASE] : [])].join(', ')} not run`)
    selected = selected.filter((c) => c.durable === undefined)
    workerPhase = false
    if (selected.length === 0) return 0
  }
  const parallelism = availableParallelism() // before pinning this process to one CPU
  const pin = !options.smoke && canPin()
  if (pin) pinSelf(1)
  const loadgen = options.loadgen ?? (options.smoke ? 'node' : (await hasWrk()) ? 'wrk' : 'node')
  if (!options.smoke && loadgen === 'node') console.warn('warning: wrk is not installed (Debian package wrk): the Node load generator will likely be the bottleneck, not the servers')
  if (!options.smoke && !pin) console.warn('warning: cannot pin (taskset missing or one CPU): server and load share CPUs')

  const startedAt = new Date().toISOString()
  const logDir = newLogDir(options.smoke ? 'smoke' : 'bench')
  if (options.cpuProf) mkdirSync(join(RESULTS_DIR, 'profiles'), { recursive: true })

  // Once, before anything else runs: every cpu bot of the run does the same work per update.
  const usesCpuBot = workerPhase || selected.some((c) => c.bot === 'cpu' || c.durable?.bot === 'cpu')
  const cpuIterations = usesCpuBot ? calibrateCpuWork(options.cpuUs) : 0
  const pg = wantsPg && noPg === undefined ? await BenchPostgres.start({ fsync: options.pgFsync }) : undefined
  if (pg !== undefined && pin) pg.pin(options.pgCpu ?? `0-${parallelism - 1}`)
  const stubPort = await freePort()
  const stubProc = startNode(join(HERE, 'bot-api-stub.js'), { ...process.env, PORT: String(stubPort), STUB_LATENCY_MS: String(options.latencyMs) }, join(logDir, 'bot-api-stub.log'), pin ? 1 : undefined)
  const run: Run = { options, loadgen, pin, stubUrl: `http://127.0.0.1:${stubPort}`, stubPid: stubProc.pid, logDir, ids: new UpdateIds(options.users), pg, cpuIterations }
  const samples: Sample[] = []
  const paired: PairResult[] = []
  const alternating: PairResult[] = []
  const pacedAlternating: PairResult[] = []
  let workerScaling: ScalingResult | undefined
  const failures: string[] = []
  const loadBefore = loadavg()
  try {
    await waitForHttp(`${run.stubUrl}/__bench/stats`, stubProc, 30_000)
    console.log(`${options.smoke ? 'smoke' : 'bench'}: ${selected.length} contenders x ${options.rounds} rounds, load ${loadgen} with ${options.connections} connections, ` +
      (options.smoke ? `${options.requests} updates each` : `${options.warmupS} s warm-up + ${options.durationS} s measured`) +
      `, Bot API stub latency ${options.latencyMs} ms, ${pin ? 'server on CPU 0, load and stub on CPU 1' : 'not pinned'}`)
    if (pg !== undefined) {
      console.log(`durable mode: PostgreSQL ${pg.version} on loopback, fsync ${pg.fsync ? 'on' : 'off'}, ANALYZE ${options.pgAnalyze ? 'after the warm-up' : 'left to autovacuum'}, ` +
        `${pin ? `the cluster on CPU ${options.pgCpu ?? 'any'} and the worker processes on CPU 1 while a durable contender is measured` : 'not pinned'}; a fresh database per measurement`)
    }
    if (usesCpuBot) console.log(`cpu bot: ${cpuIterations} steps per update, about ${options.cpuUs} us of CPU (calibrated here)`)
    for (let round = 1; round <= options.rounds; round++) {
      for (const contender of selected) {
        try {
          // Every attempt's problems count, whichever attempt's figures are kept.
          const record = (sample: Sample, attempt: number): Sample => {
            const tag = `${contender.name} r${round}${attempt > 1 ? ` (attempt ${attempt})` : ''}`
            if (!sample.handledOk) failures.push(`${tag}: ${sample.handledDetail}`)
            if (sample.non2xx > 0 || sample.errors > 0) failures.push(`${tag}: ${sample.non2xx} non-2xx answers, ${sample.errors} connection errors`)
            return sample
          }
          let s = record(await measure(run, contender, round), 1)
          for (let retry = 1; retry <= options.retries && s.othersCpuPct > options.maxOthersPct; retry++) {
            console.log(`  r${round} ${contender.name}: other processes used ${s.othersCpuPct.toFixed(0)}% of a CPU meanwhile; measuring again (${retry}/${options.retries})`)
            await sleep(3000)
            const again = record(await measure(run, contender, round), retry + 1)
            if (again.othersCpuPct < s.othersCpuPct) s = again
          }
          samples.push(s)
          console.log(`  r${round} ${contender.name.padEnd(21)} ${Math.round(s.rps).toString().padStart(6)} updates/s  p50 ${s.p50Ms.toFixed(2)} ms  p99 ${s.p99Ms.toFixed(2)} ms  ` +
            `${s.cpuUsPerUpdate.toFixed(1)} us/upd  srv CPU ${s.serverCpuPct.toFixed(0)}%  CPUs busy ${s.cpuBusyPct.join('/')}% others ${s.othersCpuPct.toFixed(0)}%  RSS ${s.peakRssMb.toFixed(1)} MB  non2xx/err ${s.non2xx}/${s.errors}` +
            (s.paced === undefined ? '' : `  paced ${s.paced.rate}/s: p50 ${s.paced.p50Ms.toFixed(2)} ms p99 ${s.paced.p99Ms.toFixed(2)} ms srv CPU ${s.paced.serverCpuPct.toFixed(0)}%`) +
            `  ${s.handledOk ? 'ok' : 'FAILED'}: ${s.handledDetail}`)
        } catch (err) {
          const message = err instanceof Error ? err.message : String(err)
          failures.push(`${contender.name} r${round}: ${message} (log: ${relative(ROOT, join(logDir, `${contender.name}.r${round}.log`))})`)
          console.log(`  r${round} ${contender.name}: FAILED: ${message}`)
        }
      }
    }
    paired.push(...await pairedPhase(run, selected, failures))
    alternating.push(...await alternatingPhase(run, selected, failures))
    pacedAlternating.push(...await pacedAlternatingPhase(run, selected, failures))
    if (workerPhase && pg !== undefined) workerScaling = await workerPhaseRun(run, pg, parallelism, failures)
  } finally {
    await stopProcess(stubProc, 5000)
    await pg?.destroy()
  }

  const order = contenders.map((c) => c.name)
  const summaries = summarize(samples, order)
  const targets = options.smoke ? [] : judgeTargets(samples, paired, pacedAlternating, alternating)
  const hasDurable = samples.some((s) => s.durable !== undefined) || workerScaling !== undefined
  const durableTargets = options.smoke || !hasDurable ? [] : judgeDurableTargets(samples, workerScaling, options.durableRate)
  const durableTables = [
    ...(samples.some((s) => s.durable !== undefined) ? [formatDurable(samples, order)] : []),
    ...(workerScaling !== undefined ? [formatScaling(workerScaling)] : [])
  ]
  const pairTables = [
    ...(paired.length > 0 ? [formatPairs('paired phase: both servers at the same time (sharing CPU 0 when pinned), each with its own load', 'rounds', paired)] : []),
    ...(alternating.length > 0 ? [formatPairs(`alternating phase: both servers up (on CPU 0 when pinned), one loaded at a time, ${alternateWindow(options)} a window, A B, B A, ...`, 'couples', alternating)] : []),
    ...(pacedAlternating.length > 0 ? [formatPairs(`paced alternating phase: both servers up (on CPU 0 when pinned), ${options.rate} updates/s to one at a time, ${options.pacedS} s a window, A B, B A, ...`, 'couples', pacedAlternating)] : [])
  ]
  console.log('')
  if (samples.length > 0) console.log(formatSummary(summaries))
  const beforeAfter = formatBaseline(samples, BASELINE_SUFFIX)
  if (options.smoke) {
    for (const t of [...pairTables, ...durableTables]) console.log(`\n${t}`)
    console.log('\n(smoke: Node load with few connections; the figures above are not a measurement)')
  } else {
    if (samples.length > 0) console.log('\nmedians over rounds; "x floor" = median of the per-round ratios to bare-fastify; "+finish" counts the CPU until the bot finished the taken updates; idle RSS is read 1 s after start-up, before any update\n')
    if (beforeAfter !== undefined) console.log(`${beforeAfter}\n`)
    if (samples.some((s) => s.paced !== undefined)) console.log(`${formatPaced(summaries)}\n`)
    for (const t of pairTables) console.log(`${t}\n`)
    if (samples.some((s) => s.durable === undefined) || paired.length > 0 || pacedAlternating.length > 0) console.log(formatTargets(targets))
    if (hasDurable) {
      const where = pin ? `PostgreSQL on CPU ${options.pgCpu ?? 'any'} with the server, workers on CPU 1 with the load` : 'nothing pinned'
      console.log(`\ndurable mode (issue 14): PostgreSQL ${pg?.version ?? '?'}, fsync ${options.pgFsync ? 'on' : 'off'}, ANALYZE ${options.pgAnalyze ? 'after the warm-up' : 'left to autovacuum'}, ${where}\n`)
      for (const t of durableTables) console.log(`${t}\n`)
      console.log(formatTargets(durableTargets))
    }
  }

  const result = {
    kind: options.smoke ? 'smoke' : 'bench',
    startedAt,
    finishedAt: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, availableParallelism: parallelism, node: process.version, loadavgBefore: loadBefore, loadavgAfter: loadavg() },
    options: { ...options, loadgen, pinned: pin },
    contenders: selected.map(({ name, about, env }) => ({ name, about, env })),
    summaries,
    paired,
    alternating,
    pacedAlternating,
    targets,
    ...(hasDurable && { durable: { postgres: pg?.version, fsync: options.pgFsync, analyze: options.pgAnalyze, pgCpu: options.pgCpu ?? 'all', cpuIterations, cpuUs: options.cpuUs, workerScaling, targets: durableTargets } }),
    samples,
    failures
  }
  const name = options.smoke ? 'smoke' : 'bench'
  writeFileSync(join(RESULTS_DIR, `${name}-${stamp()}.json`), JSON.stringify(result, null, 2))
  writeFileSync(join(RESULTS_DIR, `${name}-latest.json`), JSON.stringify(result, null, 2))
  console.log(`\nresults: ${relative(ROOT, join(RESULTS_DIR, `${name}-latest.json`))}, logs: ${relative(ROOT, logDir)}`)
  if (failures.length > 0) {
    console.log(`\n${failures.length} problem(s):\n${failures.map((f) => `  - ${f}`).join('\n')}`)
    return 1
  }
  if (options.smoke) {
    console.log(`\nsmoke ok: ${samples.length} contenders answered every update 2xx; the slow bots handled each exactly once; ${paired.length} pairs ran side by side, ${alternating.length} alternated, ${pacedAlternating.length} alternated at a paced rate` +
      (workerScaling !== undefined ? '; the worker phase handled every stored update once, in chat order, with 1 and 2 workers' : ''))
  }
  return 0
}

killStartedOnSignals()

main().then((code) => { process.exit(code) }, (err: unknown) => {
  console.error(err instanceof Error ? err.message : err)
  process.exit(2)
})
