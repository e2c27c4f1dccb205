// Durable mode's database: the stored updates (the dedupe table and the dead letters in one) and
// the jobs graphile-worker runs. The webhook's only query is store(): one statement, so one
// transaction, that inserts the update's row and, when the row is new, queues its job.
import { setTimeout as sleep } from 'node:timers/promises'
import { runMigrations, type WorkerUtils, makeWorkerUtils, Logger, type LogLevel } from 'graphile-worker'
import pg from 'pg'
import type { Update } from 'telegraf/types'
import { chatKeyOf } from '../ingress/chat-queue.js'
import { updateTypeOf } from '../ingress/ingress.js'
import { RepeatedWarning, type Log } from '../logger.js'

export const SCHEMA = 'telegram_ingress'
export const TASK = 'telegram_update'
/**
 * How often graphile-worker may take a job again after a failure it saw (the task's own retries
 * of a throwing handler are counted apart, TELEGRAM_HANDLER_MAX_ATTEMPTS): a worker killed
 * mid-job, a database lost while marking an update done. Bounded, so a job that kills its worker
 * every time ends as failed rather than looping.
 */
export const JOB_MAX_ATTEMPTS = 25
/** Every query, at most: the webhook's answer must come well within Telegram's 60 s. */
export const QUERY_TIMEOUT_MS = 10_000
/** Waiting for a connection, at most (the pool is full, or the database does not answer). */
export const CONNECT_TIMEOUT_MS = 5_000
/** How long a starting process waits for the database to answer (compose starts both together). */
export const DATABASE_START_TIMEOUT_MS = 60_000
// Any constant: every process that migrates takes this lock first, so two never migrate at once.
const MIGRATION_LOCK = 7_146_231_918

export type StoreOutcome = 'stored' | 'duplicate'

/** One job's counts, for `admin-cli jobs` and webhook-info. */
export interface JobCounts {
  pending: number
  running: number
  failed: number
  /** Seconds since the oldest pending update was stored; null when none waits. */
  oldest_pending_seconds: number | null
}

// Our tables, in order; each runs once, in a transaction, under the migration lock.
const MIGRATIONS: string[] = [
  `create table ${SCHEMA}.updates (
     update_id bigint primary key,
     chat_key text,
     type text not null,
     body jsonb not null,
     received_at timestamptz not null default now(),
     state text not null default 'pending' check (state in ('pending', 'done', 'failed')),
     attempts integer not null default 0,
     last_error text,
     finished_at timestamptz
   );
   create index updates_received_at on ${SCHEMA}.updates (received_at);
   create index updates_failed on ${SCHEMA}.updates (update_id) where state = 'failed';
   create index updates_pending on ${SCHEMA}.updates (received_at) where state = 'pending';
   create table ${SCHEMA}.workers (
     id text primary key,
     seen_at timestamptz not null default now()
   );`
]

/** graphile-worker's log lines, into ours (its "warning" is pino's "warn"). */
export function graphileLogger (log: Log): Logger {
  // Its info lines are one per job ("Completed task ..."): ours at debug.
  const methods: Record<LogLevel, 'error' | 'warn' | 'info' | 'debug'> = { error: 'error', warning: 'warn', info: 'debug', debug: 'debug' }
  return new Logger((scope) => (level, message, meta) => {
    log[methods[level]]({ component: 'graphile-worker', ...scope, ...meta }, message)
  })
}

/** A pool with a deadline on everything, and an error handler (an idle client's error is not a crash). */
export function createPool (url: string, max: number, log: Log, name: string): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    query_timeout: QUERY_TIMEOUT_MS,
    statement_timeout: QUERY_TIMEOUT_MS,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    application_name: `telegram-ingress ${name}`
  })
  const lost = new RepeatedWarning(log, `database connection lost (${name} pool); the next query reconnects`)
  const note = (err: Error): void => { lost.note({ err: { message: err.message, code: (err as { code?: string }).code } }) }
  // Idle clients report on the pool, clients in use on themselves: without both handlers, a
  // database restart would be an uncaught 'error' event, and the process would exit.
  pool.on('error', note)
  pool.on('connect', (client) => { client.on('error', note) })
  return pool
}

/** The queue a chat's jobs run in, one at a time; null (no order) for updates without a chat. */
export function queueNameOf (update: Update): string | null {
  const key = chatKeyOf(update)
  return key === undefined ? null : `chat:${key}`
}

export class DurableStore {
  readonly pool: pg.Pool
  readonly #log: Log
  #utils: WorkerUtils | undefined

  constructor (url: string, log: Log, options: { poolSize?: number, name?: string } = {}) {
    this.#log = log
    this.pool = createPool(url, options.poolSize ?? 10, log, options.name ?? 'web')
  }

  /**
   * Our tables and graphile-worker's, created or brought up to date. Several processes may start
   * together: each waits for the lock, and finds the work done by the first. Takes two of the
   * pool's connections at once (the lock's, and graphile-worker's migrations').
   */
  async migrate (): Promise<void> {
    const client = await this.pool.connect()
    try {
      await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK])
      try {
        await runMigrations({ pgPool: this.pool, logger: graphileLogger(this.#log) })
        await client.query(`create schema if not exists ${SCHEMA}`)
        await client.query(`create table if not exists ${SCHEMA}.migrations (id integer primary key, applied_at timestamptz not null default now())`)
        const { rows } = await client.query<{ id: number }>(`select id from ${SCHEMA}.migrations`)
        const applied = new Set(rows.map((r) => r.id))
        for (const [index, sql] of MIGRATIONS.entries()) {
          const id = index + 1
          if (applied.has(id)) continue
          await client.query('begin')
          try {
            await client.query(sql)
            await client.query(`insert into ${SCHEMA}.migrations (id) values ($1)`, [id])
            await client.query('commit')
          } catch (err) {
            await client.query('rollback')
            throw err
          }
          this.#log.info({ migration: id }, 'database migration applied')
        }
      } finally {
        await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK])
      }
    } finally {
      client.release()
    }
  }

  /**
   * migrate(), tried again while the database is not reachable yet (compose starts it beside us),
   * up to `timeoutMs`; the last error is thrown after that.
   */
  async migrateWhenReachable (timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + timeoutMs
    for (let attempt = 1; ; attempt++) {
      try {
        await this.migrate()
        return
      } catch (err) {
        if (Date.now() >= deadline || signal?.aborted === true) throw err
        const delay = Math.min(5000, 250 * 2 ** (attempt - 1))
        this.#log.warn({ err: { message: (err as Error).message }, retry_in_ms: delay }, 'database not reachable yet; trying again')
        await sleep(delay, undefined, signal === undefined ? {} : { signal })
      }
    }
  }

  /**
   * The webhook's query: the update stored and its job queued, in one statement and so in one
   * transaction, or neither. 'duplicate' when the update_id is stored already (a redelivery, to
   * this replica or another): nothing is written.
   */
  async store (update: Update): Promise<StoreOutcome> {
    const { rowCount } = await this.pool.query({
      name: 'telegram-ingress-store',
      text: `with stored as (
               insert into ${SCHEMA}.updates (update_id, chat_key, type, body) values ($1, $2, $3, $4)
               on conflict (update_id) do nothing
               returning update_id
             )
             select graphile_worker.add_job($5, json_build_object('update_id', update_id), queue_name => $2, max_attempts => $6)
             from stored`,
      values: [update.update_id, queueNameOf(update), updateTypeOf(update), update, TASK, JOB_MAX_ATTEMPTS]
    })
    return rowCount === 1 ? 'stored' : 'duplicate'
  }

  /** A query that must answer within `timeoutMs`: the health probe's. */
  async ping (timeoutMs: number): Promise<void> {
    await this.pool.query({ text: 'select 1', query_timeout: timeoutMs } as pg.QueryConfig)
  }

  async counts (): Promise<JobCounts> {
    const { rows: [row] } = await this.pool.query<{ pending: string, running: string, failed: string, oldest: number | null }>(
      `select
         (select count(*) from graphile_worker.jobs where task_identifier = $1 and locked_at is null and attempts < max_attempts) as pending,
         (select count(*) from graphile_worker.jobs where task_identifier = $1 and locked_at is not null) as running,
         (select count(*) from ${SCHEMA}.updates where state = 'failed') as failed,
         (select extract(epoch from now() - min(received_at))::float8 from ${SCHEMA}.updates where state = 'pending') as oldest`,
      [TASK]
    )
    return {
      pending: Number(row?.pending ?? 0),
      running: Number(row?.running ?? 0),
      failed: Number(row?.failed ?? 0),
      oldest_pending_seconds: row?.oldest === null || row?.oldest === undefined ? null : Math.round(row.oldest * 10) / 10
    }
  }

  /** Every failed update queued again (in update_id order, each in its chat's queue); how many. */
  async retryFailed (): Promise<number> {
    const { rowCount } = await this.pool.query(
      `with again as (
         update ${SCHEMA}.updates set state = 'pending', attempts = 0, last_error = null, finished_at = null
         where state = 'failed'
         returning update_id, chat_key
       )
       select graphile_worker.add_job($1, json_build_object('update_id', update_id), queue_name => chat_key, max_attempts => $2)
       from (select * from again order by update_id) as ordered`,
      [TASK, JOB_MAX_ATTEMPTS]
    )
    return rowCount ?? 0
  }

  /** One stored update handled again, whatever its state: false when it is not stored (any more). */
  async replay (updateId: number): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `with again as (
         update ${SCHEMA}.updates set state = 'pending', attempts = 0, last_error = null, finished_at = null
         where update_id = $3
         returning update_id, chat_key
       )
       select graphile_worker.add_job($1, json_build_object('update_id', update_id), queue_name => chat_key, max_attempts => $2)
       from again`,
      [TASK, JOB_MAX_ATTEMPTS, updateId]
    )
    return rowCount === 1
  }

  /**
   * Forgets what is older than the retention: finished updates (the dedupe rows with them), and
   * graphile-worker's rows of queues no job uses any more (one per chat ever seen).
   */
  async prune (retentionHours: number): Promise<number> {
    const { rowCount } = await this.pool.query(
      `delete from ${SCHEMA}.updates where received_at < now() - make_interval(hours => $1) and state <> 'pending'`,
      [retentionHours]
    )
    await (await this.workerUtils()).cleanup({ tasks: ['GC_JOB_QUEUES'] })
    return rowCount ?? 0
  }

  async workerUtils (): Promise<WorkerUtils> {
    this.#utils ??= await makeWorkerUtils({ pgPool: this.pool, logger: graphileLogger(this.#log) })
    return this.#utils
  }

  async close (): Promise<void> {
    await this.#utils?.release()
    await this.pool.end()
  }
}

/** What webhook-info says of the database. */
export interface DatabaseReport {
  ok: boolean
  /** Why not ok: the error, without the URL. */
  error?: string
  jobs?: JobCounts
}

const REPORT_TTL_MS = 2000
const PING_TIMEOUT_MS = 2000

/**
 * The database's state for the health probe, cached for 2 s and fetched once for concurrent
 * probes (single flight), like the webhook's own state: probes cost the database nothing much.
 */
export class DatabaseHealth {
  readonly #store: DurableStore
  #cached: { at: number, report: DatabaseReport } | undefined
  #inFlight: Promise<DatabaseReport> | undefined

  constructor (store: DurableStore) {
    this.#store = store
  }

  async report (): Promise<DatabaseReport> {
    if (this.#cached !== undefined && Date.now() - this.#cached.at < REPORT_TTL_MS) return this.#cached.report
    this.#inFlight ??= this.#fetch().finally(() => { this.#inFlight = undefined })
    return await this.#inFlight
  }

  async #fetch (): Promise<DatabaseReport> {
    let report: DatabaseReport
    try {
      await this.#store.ping(PING_TIMEOUT_MS)
      report = { ok: true, jobs: await this.#store.counts() }
    } catch (err) {
      const e = err as { message?: string, code?: string }
      report = { ok: false, error: `${e.code !== undefined ? `${e.code}: ` : ''}${e.message ?? String(err)}` }
    }
    this.#cached = { at: Date.now(), report }
    return report
  }
}
