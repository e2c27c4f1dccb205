// Durable mode's worker: graphile-worker takes the stored updates' jobs (one named queue per chat,
// so a chat's updates run one at a time, in the order they were stored, across every worker) and
// hands each update to the bot. Two things graphile-worker does not do for us are done here:
// - a throwing handler is retried inside its job, so its chat's later updates wait for it (a failed
//   graphile job would let them pass), up to TELEGRAM_HANDLER_MAX_ATTEMPTS, then kept as failed;
// - a worker that died is noticed within WORKER_LOST_AFTER_MS (a heartbeat row per worker), and
//   its jobs and chats are unlocked with forceUnlockWorkers (on its own, graphile-worker waits hours).
import { EventEmitter } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { run, type JobHelpers, type Runner, type Task, type WorkerEvents, type WorkerPool } from 'graphile-worker'
import type pg from 'pg'
import type { Telegraf } from 'telegraf'
import type { Update } from 'telegraf/types'
import type { DurableConfig } from '../config.js'
import { HandlerTimeoutError, updateTypeOf } from '../ingress/ingress.js'
import { RepeatedWarning, type Log } from '../logger.js'
import { retryAfterSeconds, telegramCode, withoutTokens } from '../telegram/errors.js'
import { createPool, graphileLogger, SCHEMA, TASK, DurableStore } from './store.js'

export interface UpdateWorkerOptions {
  databaseUrl: string
  handle: (update: Update) => Promise<void>
  log: Log
  concurrency: number
  lostAfterMs: number
  /** Runs of a throwing handler, at most; then the update is kept as failed. */
  maxAttempts: number
  retentionHours: number
  /** A handler still running after this is given up on (kept as failed; its chat goes on). Default 90 s. */
  handlerTimeoutMs?: number
  /** The first retry's delay; each next one doubles, up to maxRetryDelayMs. Default 1 s. */
  retryDelayMs?: number
  maxRetryDelayMs?: number
  /** How often an idle worker looks for jobs nobody announced (tests lengthen it). Default: 2 s, or less. */
  pollIntervalMs?: number
}

const DEFAULT_HANDLER_TIMEOUT_MS = 90_000
/** A Bot API 429's retry_after is waited for, up to this much (a bound on a job holding its chat). */
const MAX_RETRY_AFTER_MS = 10 * 60_000
const PRUNE_EVERY_MS = 60 * 60_000
/** After a job completes: when its completion (one short query) has likely committed, or surely. */
const NUDGE_AFTER_MS = [5, 100, 500]
/** How long a job's own query is tried again while the database does not answer. */
const QUERY_RETRY_MS = 120_000
/** How long a failed job runner may take to stop before it is killed. */
const RETIRE_MS = 10_000

/** How long to wait before the handler's next run: Telegram's retry_after, or a doubling backoff with jitter. */
export function retryDelayFor (err: unknown, attempt: number, baseMs: number, maxMs: number): number {
  const retryAfter = telegramCode(err) === 429 ? retryAfterSeconds(err) : undefined
  if (retryAfter !== undefined) return Math.min(MAX_RETRY_AFTER_MS, retryAfter * 1000)
  const delay = Math.min(maxMs, baseMs * 2 ** (attempt - 1))
  return Math.round(delay * (0.8 + Math.random() * 0.4))
}

function errorText (err: unknown): string {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err)
  return withoutTokens(text).slice(0, 2000)
}

export class UpdateWorker {
  readonly #options: UpdateWorkerOptions
  readonly #log: Log
  readonly #pool: pg.Pool
  readonly #store: DurableStore
  readonly #events: WorkerEvents = new EventEmitter() as WorkerEvents
  #runner: Runner | undefined
  /** graphile-worker's id for this process's pool: the `locked_by` of the jobs it holds. */
  #poolId: string | undefined
  /** The pool taking jobs now; undefined while it shuts down or is replaced. */
  #livePool: WorkerPool | undefined
  #beatTimer: NodeJS.Timeout | undefined
  #pruneTimer: NodeJS.Timeout | undefined
  #restartTimer: NodeJS.Timeout | undefined
  #stopping = false
  /** No sweeping before this: after our own database trouble, the others need time to beat again. */
  #sweepFrom = 0
  readonly #beatFailed: RepeatedWarning
  readonly #queryFailed: RepeatedWarning
  #handled = 0
  #failed = 0

  constructor (options: UpdateWorkerOptions) {
    this.#options = options
    this.#log = options.log
    // Its own pool, apart from the webhook's: handlers that queue up never take the connections the
    // webhook needs to store updates.
    this.#pool = createPool(options.databaseUrl, options.concurrency + 3, options.log, 'worker')
    this.#store = new DurableStore(options.databaseUrl, options.log, { poolSize: 1, name: 'worker-admin' })
    this.#beatFailed = new RepeatedWarning(options.log, 'worker heartbeat failed (database unreachable?)')
    this.#queryFailed = new RepeatedWarning(options.log, 'a job\'s query failed (database unreachable?); trying again')
    this.#events.on('pool:create', ({ workerPool }) => {
      this.#poolId = workerPool.id
      this.#livePool = workerPool
    })
    // A pool that shuts down must not be nudged (graphile-worker asserts it is active).
    for (const event of ['pool:gracefulShutdown', 'pool:forcefulShutdown', 'pool:release'] as const) {
      this.#events.on(event, ({ workerPool }) => {
        if (this.#livePool !== workerPool) return
        this.#livePool = undefined
        // Not asked for by stop(): graphile-worker gave up on this pool.
        if (this.#runner !== undefined) this.#runnerFailed(this.#runner, new Error(`graphile-worker ${event}`))
      })
    }
    // graphile-worker completes a job without waiting, then looks for the next one at once: the
    // chat's queue is usually still locked then, and the chat's next update would wait for the
    // poll. Once the completion has had time to commit, idle workers are told to look again.
    // The completion is batched and not awaited, so when it commits is not known: three nudges, the
    // later ones for a busy database (a nudge wakes an idle worker only; busy ones look anyway).
    this.#events.on('job:complete', () => {
      for (const delay of NUDGE_AFTER_MS) {
        setTimeout(() => {
          try {
            this.#livePool?.nudge(1)
          } catch {
            // Shutting down between the check and the call: nothing to wake.
          }
        }, delay).unref()
      }
    })
  }

  get id (): string | undefined {
    return this.#poolId
  }

  get stats (): { handled: number, failed: number } {
    return { handled: this.#handled, failed: this.#failed }
  }

  /** The heartbeat's period and the silence after which a worker counts as lost. */
  get #beatMs (): number {
    return Math.max(100, Math.floor(this.#options.lostAfterMs / 6))
  }

  async start (): Promise<void> {
    await this.#startRunner()
    await this.#beat()
    this.#beatTimer = setInterval(() => { this.#beat().catch(() => {}) }, this.#beatMs)
    this.#beatTimer.unref()
    // A first prune soon after start (a spread over the workers), then hourly.
    this.#pruneTimer = setTimeout(() => { this.#prune().catch(() => {}) }, 60_000 + Math.random() * 60_000)
    this.#pruneTimer.unref()
    this.#log.info({ worker_id: this.#poolId, concurrency: this.#options.concurrency, lost_after_ms: this.#options.lostAfterMs }, 'durable worker started')
  }

  async #startRunner (): Promise<void> {
    const task: Task = async (payload, helpers) => { await this.#runJob(payload as { update_id: number }, helpers) }
    const runner = await run({
      pgPool: this.#pool,
      concurrency: this.#options.concurrency,
      // Our process owns the signals (close-with-grace): stop() is called from there.
      noHandleSignals: true,
      // New jobs arrive by LISTEN/NOTIFY, and a chat's next job by the nudge (pool:create above);
      // polling only finds jobs unlocked by the sweep, and retries.
      pollInterval: this.#options.pollIntervalMs ?? Math.min(2000, this.#beatMs),
      taskList: { [TASK]: task },
      parsedCronItems: [],
      logger: graphileLogger(this.#log),
      events: this.#events,
      // Batched (delay 0), a job's completion is retried through a database outage (20 tries over
      // minutes); unbatched, graphile-worker 0.17 does not await it, and its failure is an
      // unhandled rejection that ends the process.
      preset: { worker: { completeJobBatchDelay: 0, failJobBatchDelay: 0 } }
    })
    this.#runner = runner
    runner.promise.then(() => { this.#runnerFailed(runner, undefined) }, (err: unknown) => { this.#runnerFailed(runner, err) })
  }

  /**
   * graphile-worker shuts its pool down by itself when it cannot complete a job (the database went
   * away at that moment), and that shutdown can wait on jobs for long. A new runner, with a new pool
   * id, takes over at once; the old one is given RETIRE_MS to stop, then killed, and the jobs it
   * still locks are unlocked for the new one (a job whose update was marked done is not run again).
   */
  #runnerFailed (runner: Runner, err: unknown): void {
    if (this.#stopping || runner !== this.#runner) return
    this.#runner = undefined
    const oldId = this.#poolId
    this.#log.error({ err, worker_id: oldId }, 'job runner failed (database lost?); a new one takes over, the old one\'s jobs are unlocked once it stopped')
    if (oldId !== undefined) this.#retire(runner, oldId).catch(() => {})
    this.#restart(1000)
  }

  #restart (delayMs: number): void {
    this.#restartTimer = setTimeout(() => {
      if (this.#stopping) return
      this.#startRunner().then(async () => {
        this.#log.info({ worker_id: this.#poolId }, 'job runner started again')
        await this.#beat()
      }, (err: unknown) => {
        this.#beatFailed.note({ err: { message: (err as Error).message } })
        this.#restart(Math.min(10_000, delayMs * 2))
      })
    }, delayMs)
    this.#restartTimer.unref()
  }

  async #retire (runner: Runner, id: string): Promise<void> {
    const settled = await Promise.race([runner.promise.then(() => true, () => true), sleep(RETIRE_MS, false, { ref: false })])
    if (!settled) await runner.kill('replaced after a database failure').catch(() => {})
    for (let attempt = 1; !this.#stopping; attempt++) {
      try {
        await (await this.#store.workerUtils()).forceUnlockWorkers([id])
        await this.#pool.query(`delete from ${SCHEMA}.workers where id = $1`, [id])
        this.#log.warn({ lost_workers: [id], worker_id: this.#poolId }, 'failed job runner retired: its jobs and chats unlocked')
        return
      } catch {
        await sleep(Math.min(5000, 250 * 2 ** attempt), undefined, { ref: false })
      }
    }
  }

  /** Finishes the running jobs (graphile-worker's graceful shutdown), then leaves the heartbeat table. */
  async stop (): Promise<void> {
    this.#stopping = true
    clearTimeout(this.#restartTimer)
    clearInterval(this.#beatTimer)
    clearTimeout(this.#pruneTimer)
    this.#beatFailed.flush()
    this.#queryFailed.flush()
    try {
      await this.#runner?.stop()
      if (this.#poolId !== undefined) await this.#pool.query(`delete from ${SCHEMA}.workers where id = $1`, [this.#poolId])
    } catch (err) {
      this.#log.warn({ err }, 'durable worker did not stop cleanly')
    } finally {
      await this.#store.close().catch(() => {})
      await this.#pool.end().catch(() => {})
    }
  }

  async #runJob ({ update_id: updateId }: { update_id: number }, helpers: JobHelpers): Promise<void> {
    const { rows: [row] } = await this.#query<{ body: Update, state: string }>(helpers, `select body, state from ${SCHEMA}.updates where update_id = $1`, [updateId])
    if (row === undefined) {
      this.#log.warn({ update_id: updateId }, 'job for an update no longer stored; skipped')
      return
    }
    // Taken again after a worker died or the database failed: if the handler had finished and only
    // the job's completion was lost, it is not run a second time.
    if (row.state !== 'pending') return
    const update = row.body
    const { maxAttempts, retryDelayMs = 1000, maxRetryDelayMs = 60_000 } = this.#options
    for (let attempt = 1; ; attempt++) {
      const err = await this.#runHandler(update)
      if (err === undefined) {
        await this.#query(helpers, `update ${SCHEMA}.updates set state = 'done', attempts = $2, last_error = null, finished_at = now() where update_id = $1`, [updateId, attempt])
        this.#handled++
        return
      }
      const last = attempt >= maxAttempts || err instanceof HandlerTimeoutError
      const fields = { update_id: updateId, type: updateTypeOf(update), err, attempt, max_attempts: maxAttempts }
      if (last) {
        this.#failed++
        this.#log.error(fields, 'update handler failed; update kept as failed (admin-cli retry-failed runs it again), its chat goes on')
        await this.#query(helpers, `update ${SCHEMA}.updates set state = 'failed', attempts = $2, last_error = $3, finished_at = now() where update_id = $1`, [updateId, attempt, errorText(err)])
        return
      }
      const delay = retryDelayFor(err, attempt, retryDelayMs, maxRetryDelayMs)
      this.#log.error({ ...fields, retry_in_ms: delay }, 'update handler failed; trying again (its chat waits)')
      // Aborted at shutdown: the job fails and graphile-worker takes it again later.
      await sleep(delay, undefined, { signal: helpers.abortSignal })
    }
  }

  /**
   * A query of the job's, tried again through a database outage, up to QUERY_RETRY_MS: a job that
   * failed instead would give its chat's queue up (the chat's next update would overtake it), and a
   * handler that ran but could not be marked done would run again.
   */
  async #query<R extends pg.QueryResultRow> (helpers: JobHelpers, text: string, values: unknown[]): Promise<pg.QueryResult<R>> {
    const deadline = Date.now() + QUERY_RETRY_MS
    for (let attempt = 1; ; attempt++) {
      try {
        return await helpers.query<R>(text, values)
      } catch (err) {
        if (Date.now() >= deadline || helpers.abortSignal.aborted) throw err
        this.#queryFailed.note({ err: { message: (err as Error).message, code: (err as { code?: string }).code }, job_id: helpers.job.id })
        // No abort signal here: one listener per waiting job on graphile-worker's shared signal.
        await sleep(Math.min(5000, 100 * 2 ** (attempt - 1)))
      }
    }
  }

  /** The handler's error (or a timeout), or undefined when it finished. */
  async #runHandler (update: Update): Promise<unknown> {
    const timeoutMs = this.#options.handlerTimeoutMs ?? DEFAULT_HANDLER_TIMEOUT_MS
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<Error>((resolve) => { timer = setTimeout(resolve, timeoutMs, new HandlerTimeoutError(timeoutMs)) })
    try {
      return await Promise.race([this.#options.handle(update).then(() => undefined, (err: unknown) => err ?? new Error('update handler rejected with nothing')), timeout])
    } catch (err) {
      return err ?? new Error('update handler threw nothing')
    } finally {
      clearTimeout(timer)
    }
  }

  /**
   * This worker's heartbeat, then the sweep: workers not seen for two thirds of WORKER_LOST_AFTER_MS
   * are dropped, and the jobs and chats they (or any worker that never beat) held are unlocked, so
   * a live worker takes them within WORKER_LOST_AFTER_MS of the death.
   */
  async #beat (): Promise<void> {
    if (this.#poolId === undefined) return
    const lostSeconds = (this.#options.lostAfterMs * 2 / 3) / 1000
    try {
      await this.#pool.query(`insert into ${SCHEMA}.workers (id, seen_at) values ($1, now()) on conflict (id) do update set seen_at = now()`, [this.#poolId])
      if (Date.now() < this.#sweepFrom) return
      const { rows } = await this.#pool.query<{ id: string }>(
        `with lost as (delete from ${SCHEMA}.workers where seen_at < now() - make_interval(secs => $1) returning id)
         select id from lost
         union
         select distinct j.locked_by from graphile_worker.jobs j
         where j.locked_by is not null and j.locked_at < now() - make_interval(secs => $1)
           and not exists (select 1 from ${SCHEMA}.workers w where w.id = j.locked_by)`,
        [lostSeconds]
      )
      const ids = rows.map((r) => r.id).filter((id) => id !== this.#poolId)
      if (ids.length === 0) return
      await (await this.#store.workerUtils()).forceUnlockWorkers(ids)
      this.#log.warn({ lost_workers: ids, worker_id: this.#poolId }, 'workers lost (no heartbeat): their jobs and chats unlocked for the live workers')
    } catch (err) {
      this.#sweepFrom = Date.now() + this.#options.lostAfterMs
      this.#beatFailed.note({ err: { message: (err as Error).message } })
    }
  }

  async #prune (): Promise<void> {
    try {
      const pruned = await this.#store.prune(this.#options.retentionHours)
      if (pruned > 0) this.#log.info({ pruned, retention_hours: this.#options.retentionHours }, 'stored updates past their retention removed')
    } catch (err) {
      this.#log.warn({ err: { message: (err as Error).message } }, 'pruning stored updates failed; trying again in an hour')
    }
    this.#pruneTimer = setTimeout(() => { this.#prune().catch(() => {}) }, PRUNE_EVERY_MS)
    this.#pruneTimer.unref()
  }
}

/** The worker that runs `bot`'s handlers, as configured (in the web process, or in dist/worker.js). */
export function workerFor (durable: DurableConfig, bot: Telegraf, log: Log): UpdateWorker {
  return new UpdateWorker({
    databaseUrl: durable.databaseUrl,
    handle: async (update) => { await bot.handleUpdate(update) },
    log,
    concurrency: durable.workerConcurrency,
    lostAfterMs: durable.workerLostAfterMs,
    maxAttempts: durable.handlerMaxAttempts,
    retentionHours: durable.retentionHours
  })
}
