// Choosing the durable mode's job queue (issue 14): graphile-worker 0.17 against pg-boss 10 on a
// throwaway PostgreSQL cluster of our own (test/helpers/pg-cluster.ts), loopback only, in one run,
// the libraries taking turns within each round so a noisy minute on this shared machine hits both.
//
// (a) The ack path: what the webhook would do before answering Telegram. Concurrent callers, each
//     one transaction on a pool of 20: claim the update_id in a dedupe table and enqueue the update
//     as a job for its chat, atomically, so an update is either acked and queued or neither.
// (b) Per-chat order: chats x jobs enqueued first, then two runners in this process drain them
//     with a handler that records overlaps and order within each chat.
//
//   npm run bench:queues [-- --rounds 5 --ack-seconds 5 --chats 200 --jobs-per-chat 10 ...]
import { readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { Logger, run, runMigrations, type Runner } from 'graphile-worker'
import pg from 'pg'
import PgBoss from 'pg-boss'
import { startPgCluster, type PgCluster } from '../test/helpers/pg-cluster.js'
import { RESULTS_DIR, stamp } from './lib/paths.js'
import { median } from './lib/report.js'
import { nthUpdate } from './lib/updates.js'

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    'ack-seconds': { type: 'string', default: '5' },
    'warmup-seconds': { type: 'string', default: '1' },
    callers: { type: 'string', default: '100' },
    pool: { type: 'string', default: '20' },
    chats: { type: 'string', default: '200' },
    'jobs-per-chat': { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '10' },
    runners: { type: 'string', default: '2' },
    'sleep-ms': { type: 'string', default: '2' },
    'drain-timeout-seconds': { type: 'string', default: '120' },
    'boss-batch': { type: 'string', default: '1' },
    'gw-poll-ms': { type: 'string', default: '2000' },
    help: { type: 'boolean', default: false }
  }
})
if (args.help === true) {
  console.log('npm run bench:queues -- [--rounds 5] [--ack-seconds 5] [--warmup-seconds 1] [--callers 100] [--pool 20]\n' +
    '  [--chats 200] [--jobs-per-chat 10] [--concurrency 10] [--runners 2] [--sleep-ms 2] [--drain-timeout-seconds 120]\n' +
    '  [--boss-batch 1]: pg-boss fetches this many jobs per poll (one per chat) and runs them at once\n' +
    '  [--gw-poll-ms 2000]: how long an idle graphile-worker worker waits before it looks again (its pollInterval)')
  process.exit(0)
}
const num = (name: keyof typeof args): number => Number(args[name])
const ROUNDS = num('rounds')
const ACK_MS = num('ack-seconds') * 1000
const WARMUP_MS = num('warmup-seconds') * 1000
const CALLERS = num('callers')
const POOL = num('pool')
const CHATS = num('chats')
const JOBS_PER_CHAT = num('jobs-per-chat')
const CONCURRENCY = num('concurrency')
const RUNNERS = num('runners')
const SLEEP_MS = num('sleep-ms')
const DRAIN_TIMEOUT_MS = num('drain-timeout-seconds') * 1000
const BOSS_BATCH = num('boss-batch')
const GW_POLL_MS = num('gw-poll-ms')
// Updates of the ack path come from this many chats, as in `npm run bench`.
const ACK_CHATS = 1000
// graphile-worker's max_attempts 25 is 24 retries; pg-boss counts retries.
const MAX_ATTEMPTS = 25

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/**
 * The n-th call of the ack path, parsed (both libraries get the same object to store as JSON). One
 * call in ten is a redelivery of an update sent five calls before, which must not be queued again.
 */
function ackUpdate (call: number): { updateId: number, chat: string, update: object } {
  const n = call % 10 === 9 ? call - 5 : call
  const { updateId, body } = nthUpdate({ firstUpdateId: 1, firstUserId: 500_000_000, users: ACK_CHATS }, n)
  return { updateId, chat: String(500_000_000 + (n % ACK_CHATS)), update: JSON.parse(body) as object }
}

/** A job of the order phase: its chat, its place in the chat, and padding to the size of an update. */
const orderPayload = (chat: string, seq: number): { chat: string, seq: number, pad: string } => ({ chat, seq, pad: 'x'.repeat(500) })

type AckFn = (client: pg.PoolClient, updateId: number, chat: string, update: object) => Promise<void>
type Handler = (chat: string, seq: number) => Promise<void>

interface Contender {
  name: string
  /** Variants of the webhook's transaction, measured separately. */
  acks: Array<{ name: string, ack: AckFn }>
  /** Empties the job tables and the dedupe table, so each phase starts alike. */
  reset: (db: pg.Pool) => Promise<void>
  /** Jobs waiting in the ack path's queue. */
  queuedUpdates: (db: pg.Pool) => Promise<number>
  enqueue: (db: pg.Pool, chat: string, seq: number) => Promise<void>
  /** Starts RUNNERS runners of CONCURRENCY each. */
  startRunners: (handler: Handler) => Promise<Runners>
  close: () => Promise<void>
}

interface Runners {
  stop: () => Promise<void>
  /** Fetches that found no job, when the library tells (graphile-worker's worker:getJob:empty). */
  emptyFetches?: () => number
}

const DEDUPE_TABLE = 'CREATE TABLE IF NOT EXISTS seen_updates (update_id bigint PRIMARY KEY)'
const CLAIM = 'INSERT INTO seen_updates (update_id) VALUES ($1) ON CONFLICT DO NOTHING RETURNING update_id'

async function count (db: pg.Pool, sql: string): Promise<number> {
  const { rows } = await db.query(sql)
  return (rows[0] as { n: number }).n
}

/** A transaction on `client`; rolled back if `fn` throws. */
async function transaction (client: pg.PoolClient, fn: () => Promise<void>): Promise<void> {
  await client.query('BEGIN')
  try {
    await fn()
    await client.query('COMMIT')
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {})
    throw err
  }
}

// graphile-worker: jobs go in through its SQL function add_job; a named queue per chat runs that
// chat's jobs one at a time. No localQueue (it is opt-in in 0.17 and batches fetches).
async function graphileWorker (url: string): Promise<Contender> {
  const silent = new Logger(() => (level, message) => { if (level === 'error') console.error(`graphile-worker: ${message}`) })
  await runMigrations({ connectionString: url, logger: silent })
  // add_job(identifier, payload, queue_name, ...) with the payload and the chat as parameters $p and $q.
  const addJob = (p: number, q: number): string => `graphile_worker.add_job('handle_update', $${p}::json, queue_name => $${q}, max_attempts => ${MAX_ATTEMPTS})`
  return {
    name: 'graphile-worker',
    acks: [
      {
        // One statement, so one round trip and its own transaction. add_job sits in the select list,
        // which runs once per row of `claimed`: not at all for a redelivery.
        name: 'one statement (CTE)',
        ack: async (client, updateId, chat, update) => {
          await client.query(`WITH claimed AS (${CLAIM}) SELECT (${addJob(2, 3)}).id FROM claimed`, [updateId, update, chat])
        }
      },
      {
        // The same shape as pg-boss's: BEGIN, claim, enqueue, COMMIT.
        name: 'BEGIN/claim/add_job/COMMIT',
        ack: async (client, updateId, chat, update) => {
          await transaction(client, async () => {
            const claimed = await client.query(CLAIM, [updateId])
            if (claimed.rowCount === 1) await client.query(`SELECT (${addJob(1, 2)}).id`, [update, chat])
          })
        }
      }
    ],
    // Bench only: the private tables are graphile-worker's, the public API has no "delete every job".
    reset: async (db) => { await db.query('TRUNCATE graphile_worker._private_jobs, graphile_worker._private_job_queues, seen_updates') },
    queuedUpdates: async (db) => await count(db, "SELECT count(*)::int AS n FROM graphile_worker.jobs WHERE task_identifier = 'handle_update'"),
    enqueue: async (db, chat, seq) => {
      await db.query(`SELECT (graphile_worker.add_job('chat_job', $1::json, queue_name => $2, max_attempts => ${MAX_ATTEMPTS})).id`, [orderPayload(chat, seq), chat])
    },
    startRunners: async (handler) => {
      const runners: Runner[] = []
      let empty = 0
      for (let i = 0; i < RUNNERS; i++) {
        const runner = await run({
          connectionString: url,
          concurrency: CONCURRENCY,
          pollInterval: GW_POLL_MS,
          noHandleSignals: true,
          logger: silent,
          taskList: {
            chat_job: async (payload) => {
              const { chat, seq } = payload as { chat: string, seq: number }
              await handler(chat, seq)
            }
          }
        })
        // A worker that finds nothing sleeps pollInterval unless a new job's NOTIFY wakes it; in this
        // phase nothing is added, so every empty fetch is a pause of that worker.
        runner.events.on('worker:getJob:empty', () => { empty++ })
        runners.push(runner)
      }
      return {
        stop: async () => { await Promise.all(runners.map(async (r) => { await r.stop() })) },
        emptyFetches: () => empty
      }
    },
    close: async () => {}
  }
}

// pg-boss 10: a queue with the 'singleton' policy allows one active job per singletonKey (a unique
// index on (name, singleton_key) over active jobs), so singletonKey = the chat serializes a chat.
// Concurrency is one polling loop per work() call; 0.5 s is the shortest polling interval allowed.
async function pgBoss (url: string): Promise<Contender> {
  const onError = (err: Error): void => { console.error(`pg-boss: ${err.message}`) }
  // The ack path's instance only sends, through the caller's client (its `db` option).
  const api = new PgBoss({ connectionString: url, max: 2, supervise: false, schedule: false })
  api.on('error', onError)
  await api.start()
  await api.createQueue('updates', { name: 'updates', policy: 'singleton', retryLimit: MAX_ATTEMPTS - 1 })
  await api.createQueue('chat-jobs', { name: 'chat-jobs', policy: 'singleton', retryLimit: MAX_ATTEMPTS - 1 })
  return {
    name: 'pg-boss',
    acks: [{
      name: 'BEGIN/claim/send/COMMIT',
      ack: async (client, updateId, chat, update) => {
        const db = { executeSql: async (text: string, values: unknown[]) => await client.query(text, values) }
        await transaction(client, async () => {
          const claimed = await client.query(CLAIM, [updateId])
          if (claimed.rowCount === 1) await api.send('updates', update, { singletonKey: chat, db })
        })
      }
    }],
    reset: async (db) => { await db.query('TRUNCATE pgboss.job, pgboss.archive, seen_updates') },
    queuedUpdates: async (db) => await count(db, "SELECT count(*)::int AS n FROM pgboss.job WHERE name = 'updates'"),
    enqueue: async (db, chat, seq) => {
      const executor = { executeSql: async (text: string, values: unknown[]) => await db.query(text, values) }
      await api.send('chat-jobs', orderPayload(chat, seq), { singletonKey: chat, db: executor })
    },
    startRunners: async (handler) => {
      const runners: PgBoss[] = []
      for (let i = 0; i < RUNNERS; i++) {
        const boss = new PgBoss({ connectionString: url, max: CONCURRENCY + 2, schedule: false })
        boss.on('error', onError)
        await boss.start()
        for (let w = 0; w < CONCURRENCY; w++) {
          // A batch holds at most one job per chat (pg-boss groups a singleton queue's fetch by key),
          // so its jobs may run at once; it completes or fails as a whole.
          await boss.work<{ chat: string, seq: number }>('chat-jobs', { batchSize: BOSS_BATCH, pollingIntervalSeconds: 0.5 }, async (jobs) => {
            await Promise.all(jobs.map(async (job) => { await handler(job.data.chat, job.data.seq) }))
          })
        }
        runners.push(boss)
      }
      return { stop: async () => { await Promise.all(runners.map(async (b) => { await b.stop({ graceful: true, wait: true, timeout: 10_000 }) })) } }
    },
    close: async () => { await api.stop({ graceful: false, wait: true }) }
  }
}

// --- measuring ------------------------------------------------------------------------------

function quantile (sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number
}

/**
 * CPU time (ms) of the cluster: the postmaster, its live children (backends, background workers),
 * and its exited children (autovacuum workers, closed connections), which the kernel adds to the
 * postmaster's cutime/cstime when it reaps them.
 */
function clusterCpuMs (cluster: PgCluster): number {
  const postmaster = Number(readFileSync(join(cluster.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0])
  let ticks = 0
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      // The fields after the command's closing parenthesis, from field 3 (state): ppid is [1],
      // utime [11], stime [12], cutime [13], cstime [14] (proc(5)).
      const fields = readFileSync(`/proc/${entry}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ').map(Number)
      if (Number(entry) === postmaster) ticks += (fields[11] ?? 0) + (fields[12] ?? 0) + (fields[13] ?? 0) + (fields[14] ?? 0)
      else if (fields[1] === postmaster) ticks += (fields[11] ?? 0) + (fields[12] ?? 0)
    } catch {}
  }
  return ticks * 10 // USER_HZ is 100 on Linux
}

async function rollbacks (db: pg.Pool): Promise<number> {
  const { rows } = await db.query('SELECT xact_rollback::int AS n FROM pg_stat_database WHERE datname = current_database()')
  return (rows[0] as { n: number }).n
}

interface AckSample { contender: string, variant: string, round: number, acks: number, acksPerS: number, p50Ms: number, p99Ms: number, txP50Ms: number, txP99Ms: number, dbCpuUsPerAck: number, nodeCpuUsPerAck: number, errors: number }

let nextAck = 0

async function measureAck (cluster: PgCluster, db: pg.Pool, contender: Contender, variant: { name: string, ack: AckFn }, round: number): Promise<AckSample> {
  await contender.reset(db)
  const latencies: number[] = []
  const txTimes: number[] = []
  let errors = 0
  const start = performance.now()
  const windowStart = start + WARMUP_MS
  const windowEnd = windowStart + ACK_MS
  let cpuAtStart = { db: 0, node: process.cpuUsage() }
  const marker = setTimeout(() => { cpuAtStart = { db: clusterCpuMs(cluster), node: process.cpuUsage() } }, WARMUP_MS)
  const caller = async (): Promise<void> => {
    while (performance.now() < windowEnd) {
      const { updateId, chat, update } = ackUpdate(nextAck++)
      const t0 = performance.now()
      const client = await db.connect()
      const t1 = performance.now()
      try {
        await variant.ack(client, updateId, chat, update)
      } catch (err) {
        errors++
        if (errors <= 3) console.error(`${contender.name}: ${(err as Error).message}`)
      } finally {
        client.release()
      }
      const t2 = performance.now()
      if (t0 >= windowStart && t2 <= windowEnd) {
        latencies.push(t2 - t0)
        txTimes.push(t2 - t1)
      }
    }
  }
  await Promise.all(Array.from({ length: CALLERS }, caller))
  clearTimeout(marker)
  const dbCpu = clusterCpuMs(cluster) - cpuAtStart.db
  const seen = await count(db, 'SELECT count(*)::int AS n FROM seen_updates')
  const queued = await contender.queuedUpdates(db)
  if (seen !== queued) {
    errors++
    console.error(`${contender.name} [${variant.name}]: ${seen} updates claimed but ${queued} jobs queued`)
  }
  const nodeCpu = process.cpuUsage(cpuAtStart.node)
  latencies.sort((a, b) => a - b)
  txTimes.sort((a, b) => a - b)
  const acks = latencies.length
  return {
    contender: contender.name,
    variant: variant.name,
    round,
    acks,
    acksPerS: acks / (ACK_MS / 1000),
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
    txP50Ms: quantile(txTimes, 0.5),
    txP99Ms: quantile(txTimes, 0.99),
    // CPU over the window, including calls that straddle its ends, per call completed inside it: an approximation.
    dbCpuUsPerAck: dbCpu * 1000 / acks,
    nodeCpuUsPerAck: (nodeCpu.user + nodeCpu.system) / acks,
    errors
  }
}

interface OrderSample { contender: string, handler: string, round: number, jobs: number, done: number, jobsPerS: number, drainMs: number, overlaps: number, outOfOrder: number, emptyFetches: number, failedStatements: number }

async function measureOrder (db: pg.Pool, contender: Contender, handlerName: string, work: () => Promise<void>, round: number): Promise<OrderSample> {
  await contender.reset(db)
  const chats = Array.from({ length: CHATS }, (_, i) => String(900_000_000 + i))
  // Seq by seq, all chats at once (the pool bounds it): a chat's jobs are enqueued one after the
  // other, as a chat's updates arrive, and chats interleave as they do in a webhook's stream.
  for (let seq = 0; seq < JOBS_PER_CHAT; seq++) {
    await Promise.all(chats.map(async (chat) => { await contender.enqueue(db, chat, seq) }))
  }
  const total = CHATS * JOBS_PER_CHAT
  const running = new Set<string>()
  // The highest seq started per chat: a job that starts below it started after a later job of its chat.
  const highest = new Map<string, number>()
  let overlaps = 0
  let outOfOrder = 0
  let done = 0
  let first = 0
  let lastEnd = 0
  let allDone: () => void = () => {}
  const finished = new Promise<void>((resolve) => { allDone = resolve })
  const handler: Handler = async (chat, seq) => {
    if (first === 0) first = performance.now()
    if (running.has(chat)) overlaps++
    running.add(chat)
    if (seq < (highest.get(chat) ?? -1)) outOfOrder++
    else highest.set(chat, seq)
    try {
      await work()
    } finally {
      running.delete(chat)
      done++
      lastEnd = performance.now()
      if (done === total) allDone()
    }
  }
  const rollbacksBefore = await rollbacks(db)
  const runners = await contender.startRunners(handler)
  let timer: NodeJS.Timeout | undefined
  await Promise.race([finished, new Promise((resolve) => { timer = setTimeout(resolve, DRAIN_TIMEOUT_MS) })])
  clearTimeout(timer)
  const emptyFetches = runners.emptyFetches?.() ?? NaN
  await runners.stop()
  const drainMs = lastEnd - first
  return {
    contender: contender.name,
    handler: handlerName,
    round,
    jobs: total,
    done,
    jobsPerS: done / (drainMs / 1000),
    drainMs,
    overlaps,
    outOfOrder,
    emptyFetches,
    // Statements that failed in the database during the drain: for pg-boss, fetches that hit the
    // singleton unique index (it swallows those and the worker waits for its next poll).
    failedStatements: (await rollbacks(db)) - rollbacksBefore
  }
}

// --- the run --------------------------------------------------------------------------------

function fmt (values: number[], digits = 0): string {
  const finite = values.filter(Number.isFinite)
  if (finite.length === 0) return '-'
  const f = (v: number): string => v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
  return `${f(median(finite))} (${f(Math.min(...finite))}-${f(Math.max(...finite))})`
}

async function main (): Promise<void> {
  const cluster = await startPgCluster({ settings: { shared_buffers: "'256MB'" } })
  // Exiting stops the cluster: pg-cluster.ts SIGQUITs what its process started when it exits.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130))
  try {
    const setups: Array<{ make: (url: string) => Promise<Contender> }> = [{ make: graphileWorker }, { make: pgBoss }]
    const contenders: Array<{ contender: Contender, db: pg.Pool }> = []
    for (const { make } of setups) {
      const url = await cluster.createDatabase()
      const db = new pg.Pool({ connectionString: url, max: POOL })
      await db.query(DEDUPE_TABLE)
      contenders.push({ contender: await make(url), db })
    }
    const serverVersion = (await contenders[0]!.db.query('SHOW server_version')).rows[0].server_version as string
    // The machine is shared: the load average says how busy the neighbours kept it (2 cores).
    console.log(`PostgreSQL ${serverVersion} at ${cluster.url}, Node ${process.version}; ${ROUNDS} rounds; load average ${loadavg()[0]?.toFixed(1)}`)

    const ackSamples: AckSample[] = []
    const orderSamples: OrderSample[] = []
    const handlers: Array<[string, () => Promise<void>]> = [['no-op', async () => {}], [`${SLEEP_MS} ms sleep`, async () => { await sleep(SLEEP_MS) }]]
    const ackEntries = contenders.flatMap(({ contender, db }) => contender.acks.map((variant) => ({ contender, db, variant })))
    for (let round = 1; round <= ROUNDS; round++) {
      // A B, then B A: neither library always goes first. The ack variants also rotate, so none
      // always follows the same one.
      const order = round % 2 === 1 ? contenders : [...contenders].reverse()
      const shift = (round - 1) % ackEntries.length
      const rotated = [...ackEntries.slice(shift), ...ackEntries.slice(0, shift)]
      for (const { contender, db, variant } of round % 2 === 1 ? rotated : rotated.reverse()) {
        const s = await measureAck(cluster, db, contender, variant, round)
        ackSamples.push(s)
        console.log(`round ${round} ack   ${contender.name} [${variant.name}]: ${s.acksPerS.toFixed(0)} acks/s, p50 ${s.p50Ms.toFixed(1)} ms, p99 ${s.p99Ms.toFixed(1)} ms, tx p50 ${s.txP50Ms.toFixed(1)} ms, db ${s.dbCpuUsPerAck.toFixed(0)} µs/ack, errors ${s.errors}`)
      }
      for (const [handlerName, work] of handlers) {
        for (const { contender, db } of order) {
          const s = await measureOrder(db, contender, handlerName, work, round)
          orderSamples.push(s)
          console.log(`round ${round} order ${contender.name} [${handlerName}]: ${s.done}/${s.jobs} jobs in ${(s.drainMs / 1000).toFixed(1)} s, ${s.jobsPerS.toFixed(0)} jobs/s, overlaps ${s.overlaps}, out of order ${s.outOfOrder}, empty fetches ${s.emptyFetches}, failed statements ${s.failedStatements}`)
        }
      }
    }

    console.log(`\nload average at the end: ${loadavg().map((l) => l.toFixed(1)).join(' ')}`)
    console.log(`\nAck path: ${CALLERS} concurrent callers, pool of ${POOL}, ${ACK_MS / 1000} s after ${WARMUP_MS / 1000} s of warm-up; median (min-max) of ${ROUNDS} rounds`)
    // Ratios within a round hold up better than the figures themselves on a shared machine.
    const reference = ackEntries.at(-1)
    console.log(`The ratios are to ${reference?.contender.name} [${reference?.variant.name}] in the same round.`)
    console.log('| library | transaction | acks/s | x acks/s | p50 ms | p99 ms | tx p50 ms | tx p99 ms | DB CPU µs/ack | x DB CPU | Node CPU µs/ack |')
    console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
    for (const { contender, variant } of ackEntries) {
      const s = ackSamples.filter((x) => x.contender === contender.name && x.variant === variant.name)
      const col = (pick: (x: AckSample) => number, digits = 0): string => fmt(s.map(pick), digits)
      const ratio = (pick: (x: AckSample) => number): string => fmt(s.map((x) => {
        const ref = ackSamples.find((r) => r.round === x.round && r.contender === reference?.contender.name && r.variant === reference?.variant.name)
        return ref === undefined ? NaN : pick(x) / pick(ref)
      }), 2)
      console.log(`| ${contender.name} | ${variant.name} | ${col((x) => x.acksPerS)} | ${ratio((x) => x.acksPerS)} | ${col((x) => x.p50Ms, 1)} | ${col((x) => x.p99Ms, 1)} | ${col((x) => x.txP50Ms, 1)} | ${col((x) => x.txP99Ms, 1)} | ${col((x) => x.dbCpuUsPerAck)} | ${ratio((x) => x.dbCpuUsPerAck)} | ${col((x) => x.nodeCpuUsPerAck)} |`)
    }
    console.log(`\nPer-chat order: ${CHATS} chats x ${JOBS_PER_CHAT} jobs, ${RUNNERS} runners x concurrency ${CONCURRENCY} (graphile-worker: pollInterval ${GW_POLL_MS} ms; pg-boss: ${CONCURRENCY} work() loops, batchSize ${BOSS_BATCH}); median (min-max) of ${ROUNDS} rounds`)
    console.log('| library | handler | jobs/s | drain s | overlaps | out of order | empty fetches | failed statements |')
    console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |')
    for (const [handlerName] of handlers) {
      for (const { contender } of contenders) {
        const s = orderSamples.filter((x) => x.contender === contender.name && x.handler === handlerName)
        const sum = (pick: (x: OrderSample) => number): number => s.reduce((acc, x) => acc + pick(x), 0)
        const unfinished = sum((x) => x.jobs - x.done)
        console.log(`| ${contender.name} | ${handlerName} | ${fmt(s.map((x) => x.jobsPerS))} | ${fmt(s.map((x) => x.drainMs / 1000), 1)} | ${sum((x) => x.overlaps)} | ${sum((x) => x.outOfOrder)} | ${fmt(s.map((x) => x.emptyFetches))} | ${fmt(s.map((x) => x.failedStatements))} |${unfinished > 0 ? ` ${unfinished} jobs unfinished at the timeout` : ''}`)
      }
    }
    mkdirSync(RESULTS_DIR, { recursive: true })
    const file = join(RESULTS_DIR, `queues-${stamp()}.json`)
    writeFileSync(file, JSON.stringify({ serverVersion, node: process.version, args, ackSamples, orderSamples }, null, 2))
    console.log(`\n${file}`)

    for (const { contender, db } of contenders) {
      await contender.close()
      await db.end()
    }
  } finally {
    await cluster.destroy()
  }
}

await main()
