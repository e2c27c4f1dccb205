// What the durable webhook's one query costs PostgreSQL, and where it goes (issue 14): the
// statement of DurableStore.store() against its two halves, our row alone and graphile-worker's
// add_job alone, and against store() with ten updates to a transaction. 100 callers at a time
// through a pool of 10 connections, as the webhook's; PostgreSQL on CPU 0, this process on CPU 1
// (when it can pin). Each variant gets a fresh database, a warm-up and ANALYZE, then a timed
// count of calls; rounds interleave the variants, and the table gives medians. While a variant
// runs, the sessions' wait events are sampled: "Lock:object" is the lock PostgreSQL takes at the
// commit of a transaction that sent a NOTIFY, held until its WAL is flushed, which graphile-worker's
// add_job sends once per job.
//
//   node dist/bench/bench/store-cost.js [--fsync on|off] [--calls N] [--rounds N]
import { parseArgs } from 'node:util'
import { pino } from 'pino'
import type { Update } from 'telegraf/types'
import { DurableStore, SCHEMA, TASK } from '../src/durable/store.js'
import { BenchPostgres, type BenchDatabase } from './lib/pg.js'
import { canPin, pinSelf } from './lib/proc.js'
import { fmt, median, table } from './lib/report.js'
import { nthUpdate, UpdateIds } from './lib/updates.js'

const { values } = parseArgs({ options: { fsync: { type: 'string', default: 'on' }, calls: { type: 'string', default: '6000' }, rounds: { type: 'string', default: '3' } } })
const CALLS = Number(values.calls)
const ROUNDS = Number(values.rounds)
const CALLERS = 100
const BATCH = 10
const log = pino({ level: 'warn' })

interface Target { db: BenchDatabase, store: DurableStore, batchStores: DurableStore[] }
type Call = (target: Target, updates: Update[]) => Promise<unknown>

const one = (fn: (store: DurableStore, u: Update) => Promise<unknown>): Call => async (t, [u]) => await fn(t.store, u as Update)

/** BATCH updates in one transaction: DurableStore.store on a pool of one connection, between begin and commit. */
const batched: Call = async (t, updates) => {
  const store = t.batchStores.pop() as DurableStore
  try {
    await store.pool.query('begin')
    for (const u of updates) await store.store(u)
    await store.pool.query('commit')
  } finally {
    t.batchStores.push(store)
  }
}

const VARIANTS: Array<{ name: string, about: string, per: number, call: Call }> = [
  { name: 'select 1', about: 'a round trip, for scale', per: 1, call: one(async (s) => await s.pool.query('select 1')) },
  { name: 'row only', about: 'our insert alone (the update row, on conflict do nothing)', per: 1, call: one(async (s, u) => await s.pool.query({ name: 'row-only', text: `insert into ${SCHEMA}.updates (update_id, chat_key, type, body) values ($1, $2, $3, $4) on conflict (update_id) do nothing`, values: [u.update_id, `chat:${u.update_id % 1000}`, 'message', u] })) },
  { name: 'add_job only', about: 'graphile-worker\'s add_job alone, in a per-chat queue', per: 1, call: one(async (s, u) => await s.pool.query({ name: 'job-only', text: 'select graphile_worker.add_job($1, json_build_object(\'update_id\', $2::bigint), queue_name => $3, max_attempts => 25)', values: [TASK, u.update_id, `chat:${u.update_id % 1000}`] })) },
  { name: 'store()', about: 'DurableStore.store: both, one statement (the webhook\'s)', per: 1, call: one(async (s, u) => await s.store(u)) },
  { name: `store() x${BATCH}/tx`, about: `${BATCH} store() calls to a transaction (a design the webhook does not have)`, per: BATCH, call: batched }
]

interface Result { variant: string, perS: number, dbUs: number, clientUs: number, lockPct: number, walSyncPct: number }

async function measure (pg: BenchPostgres, variant: typeof VARIANTS[number], ids: UpdateIds): Promise<Result> {
  const db = await pg.database()
  const store = new DurableStore(db.url, log)
  const batchStores = Array.from({ length: CALLERS / BATCH }, () => new DurableStore(db.url, log, { poolSize: 1, name: 'batch' }))
  const sampler = new DurableStore(db.url, log, { poolSize: 1, name: 'sampler' })
  const target: Target = { db, store, batchStores }
  try {
    await store.migrate()
    const seq = ids.next(60)
    let n = 0
    const run = async (calls: number): Promise<void> => {
      const end = n + calls
      await Promise.all(Array.from({ length: variant.per === 1 ? CALLERS : CALLERS / variant.per }, async () => {
        while (n < end) {
          const batch = Array.from({ length: variant.per }, () => JSON.parse(nthUpdate(seq, n++).body) as Update)
          await variant.call(target, batch)
        }
      }))
    }
    await run(Math.min(2000, CALLS))
    await db.analyze()
    const waits = new Map<string, number>()
    let samples = 0
    const sampling = { on: true }
    const sampled = (async () => {
      while (sampling.on) {
        const { rows } = await sampler.pool.query<{ w: string }>('select coalesce(wait_event_type || \':\' || wait_event, \'cpu\') as w from pg_stat_activity where application_name in (\'telegram-ingress web\', \'telegram-ingress batch\') and state = \'active\'')
        for (const r of rows) waits.set(r.w, (waits.get(r.w) ?? 0) + 1)
        samples += rows.length
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
    })()
    const c0 = process.cpuUsage()
    const d0 = pg.cpuTimeUs()
    const t0 = performance.now()
    await run(CALLS)
    const ms = performance.now() - t0
    const dbUs = pg.cpuTimeUs() - d0
    const { user, system } = process.cpuUsage(c0)
    sampling.on = false
    await sampled
    const share = (w: string): number => (waits.get(w) ?? 0) / Math.max(1, samples) * 100
    return { variant: variant.name, perS: CALLS / ms * 1000, dbUs: dbUs / CALLS, clientUs: (user + system) / CALLS, lockPct: share('Lock:object'), walSyncPct: share('IO:WALSync') }
  } finally {
    await Promise.all([store, sampler, ...batchStores].map(async (s) => { await s.close() }))
    await db.drop()
  }
}

const unavailable = BenchPostgres.unavailable()
if (unavailable !== undefined) {
  console.log(`store-cost: ${unavailable}`)
  process.exit(1)
}
const pin = canPin()
if (pin) pinSelf(1)
const pg = await BenchPostgres.start({ fsync: values.fsync !== 'off' })
if (pin) pg.pin('0')
const results: Result[] = []
try {
  console.log(`store-cost: PostgreSQL ${pg.version}, fsync ${pg.fsync ? 'on' : 'off'}, ${CALLS} calls per variant and round, ${CALLERS} callers, pool of 10, ${pin ? 'PostgreSQL on CPU 0, this process on CPU 1' : 'not pinned'}`)
  const ids = new UpdateIds(1000)
  for (let round = 1; round <= ROUNDS; round++) {
    for (const variant of round % 2 === 1 ? VARIANTS : [...VARIANTS].reverse()) {
      const r = await measure(pg, variant, ids)
      results.push(r)
      console.log(`  r${round} ${r.variant.padEnd(16)} ${fmt(r.perS).padStart(6)} updates/s  PostgreSQL ${fmt(r.dbUs)} us/update  client ${fmt(r.clientUs)} us  waiting on the NOTIFY commit lock ${fmt(r.lockPct)}%, on WAL sync ${fmt(r.walSyncPct)}% of active samples`)
    }
  }
} finally {
  await pg.destroy()
}
console.log('\nmedians over rounds\n' + table(
  ['variant', 'updates/s', 'PG CPU us/update', 'client CPU us', 'Lock:object', 'WALSync', 'what'],
  VARIANTS.map((v) => {
    const mine = results.filter((r) => r.variant === v.name)
    const med = (pick: (r: Result) => number): number => median(mine.map(pick))
    return [v.name, fmt(med((r) => r.perS)), fmt(med((r) => r.dbUs)), fmt(med((r) => r.clientUs)), `${fmt(med((r) => r.lockPct))}%`, `${fmt(med((r) => r.walSyncPct))}%`, v.about]
  })
))
