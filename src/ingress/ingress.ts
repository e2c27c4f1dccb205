// The path of one accepted update: dedupe -> the chat's queue -> the bot, raced against the handler
// budget. Knows nothing about HTTP or Telegraf: it is handed a `handle` function.
import type { Log } from '../logger.js'
import type { Update } from 'telegraf/types'
import { ChatQueue, chatKeyOf } from './chat-queue.js'
import { Deadlines } from './deadlines.js'
import { MemoryDedupe, type UpdateDedupe } from './dedupe.js'

/**
 * What the webhook should answer. 'closed' (shutting down) and 'unavailable' (durable mode: the
 * database failed) are not 200s, so Telegram keeps the update and sends it again.
 * 'stored' is durable mode's 200: committed, the bot runs it later.
 */
export type AcceptOutcome = 'handled' | 'acked-early' | 'stored' | 'duplicate' | 'closed' | 'unavailable'

/**
 * What the webhook, the poller and the process see of an ingress: this in-process one, or durable
 * mode's (durable/ingress.ts), which stores the update instead of running the bot.
 */
export interface UpdateIngress {
  accept: (update: Update) => Promise<AcceptOutcome>
  readonly closed: boolean
  /** Updates taken and not finished (in durable mode: not committed yet). */
  readonly inFlight: number
  close: () => void
  drain: (timeoutMs: number) => Promise<boolean>
  readonly stats: Readonly<Record<string, number>>
}

export type UpdateHandler = (update: Update) => Promise<void>

export interface IngressOptions {
  handle: UpdateHandler
  log: Log
  /** How long accept() waits for the handler before answering anyway; 0 = answer at once. */
  budgetMs: number
  /**
   * How long a handler may run before the ingress gives up on it: the failure is logged and the
   * chat's next update may start (the handler itself cannot be stopped). Default 90 s, Telegraf's.
   */
  handlerTimeoutMs?: number
  /**
   * Updates taken and not yet finished, at most. When that many are in memory (a budget of 0 and a
   * bot slower than the traffic), the next update waits for one to finish before it is taken and
   * acknowledged: Telegram's connections hold the excess instead of this process. Default 10 000.
   */
  maxBacklog?: number
  dedupe?: UpdateDedupe
}

export interface IngressStats extends Record<string, number> {
  accepted: number
  duplicates: number
  failed: number
  ackedEarly: number
  inFlight: number
  /** Updates waiting for room in the backlog (not yet taken, not yet acknowledged). */
  waitingForRoom: number
  /** Updates taken but not answered yet, queued behind their chat's running update. */
  waitingForChat: number
  queuedChats: number
}

/** A taken update behind its chat's running one: its 2xx waits until it runs. */
interface Queued {
  readonly update: Update
  readonly answer: (outcome: AcceptOutcome) => void
  readonly answered: Promise<AcceptOutcome>
  /** Answered 'closed' at shutdown: when its turn comes, it is skipped. */
  cancelled: boolean
}

const DEFAULT_HANDLER_TIMEOUT_MS = 90_000
export const DEFAULT_MAX_BACKLOG = 10_000

export class HandlerTimeoutError extends Error {
  constructor (ms: number) {
    super(`update handler still running after ${ms} ms; its chat goes on without it`)
    this.name = 'HandlerTimeoutError'
  }
}

/** The update's type, as Telegraf names it: the one field besides update_id. */
export function updateTypeOf (update: Update): string {
  for (const key in update) if (key !== 'update_id') return key
  return 'unknown'
}

export class Ingress implements UpdateIngress {
  readonly #handle: UpdateHandler
  readonly #log: Log
  readonly #budgets: Deadlines
  readonly #timeouts: Deadlines
  readonly #dedupe: UpdateDedupe
  readonly #maxBacklog: number
  /** Updates waiting for the backlog to have room, oldest first (not claimed yet). */
  readonly #waitingForRoom: Array<() => void> = []
  readonly #queue = new ChatQueue()
  /** Budget 0: updates acked in this event-loop turn, started together after the acks went out. */
  #toStart: Array<[Update, () => void]> = []
  /** Taken updates waiting for their chat, by update_id (a resend of one waits with it). */
  readonly #queued = new Map<number, Queued>()
  #closed = false
  #inFlight = 0
  readonly #idle: Array<() => void> = []
  #accepted = 0
  #duplicates = 0
  #failed = 0
  #ackedEarly = 0

  constructor (options: IngressOptions) {
    this.#handle = options.handle
    this.#log = options.log
    this.#budgets = new Deadlines(options.budgetMs)
    this.#timeouts = new Deadlines(options.handlerTimeoutMs ?? DEFAULT_HANDLER_TIMEOUT_MS)
    this.#dedupe = options.dedupe ?? new MemoryDedupe()
    this.#maxBacklog = options.maxBacklog ?? DEFAULT_MAX_BACKLOG
    if (!Number.isInteger(this.#maxBacklog) || this.#maxBacklog < 1) throw new RangeError('maxBacklog must be a positive integer')
  }

  /**
   * Takes one update: 'handled' once the bot finished it within the budget, 'acked-early' when the
   * budget ran out first (the bot goes on), 'duplicate' for a redelivery, 'closed' when shutting down.
   * Not an async function: with the in-memory dedupe an update is taken (and counted against the
   * backlog) in the same turn, so the room that one finished update makes is given to one update only.
   */
  accept (update: Update): Promise<AcceptOutcome> {
    if (this.#closed) return Promise.resolve('closed')
    if (this.#inFlight >= this.#maxBacklog) {
      // Not claimed yet: if we close before there is room, Telegram's resend is still new elsewhere.
      return new Promise((resolve) => { this.#waitingForRoom.push(() => { resolve(this.accept(update)) }) })
    }
    try {
      const claimed = this.#dedupe.claim(update.update_id)
      if (typeof claimed !== 'boolean') return claimed.then(async (ok) => await this.#afterClaim(update, ok))
      return Promise.resolve(this.#afterClaim(update, claimed))
    } catch (err) {
      return Promise.reject(err)
    }
  }

  #afterClaim (update: Update, claimed: boolean): AcceptOutcome | Promise<AcceptOutcome> {
    if (!claimed) {
      this.#duplicates++
      // A resend of an update still waiting for its chat (Telegram gave up after 60 s) is answered
      // with it: a 200 now would acknowledge an update that has not started.
      const waiting = this.#queued.get(update.update_id)
      return waiting === undefined ? 'duplicate' : waiting.answered.then((o) => o === 'closed' ? o : 'duplicate')
    }
    if (this.#closed) {
      // Closed while an asynchronous claim was in flight: let Telegram's resend reach the next instance.
      return Promise.resolve(this.#dedupe.release(update.update_id)).then(() => 'closed' as const)
    }
    this.#accepted++
    this.#inFlight++
    let answer = (_outcome: AcceptOutcome): void => {}
    const answered = new Promise<AcceptOutcome>((resolve) => { answer = resolve })
    const queued: Queued = { update, answer, answered, cancelled: false }
    let started = false
    this.#queue.run(chatKeyOf(update), (next) => {
      started = true
      this.#startHead(queued, next)
    })
    // Its chat is busy: it waits, and is found here by a resend or by close(). An update whose chat
    // was idle has started already, and most do: they never enter the map.
    if (!started) this.#queued.set(update.update_id, queued)
    return answered
  }

  /**
   * The update is its chat's head now: only from here may its 2xx go out before the bot finished.
   * An update queued behind it is not answered, so Telegram (which sends a chat's next update only
   * after a 2xx) holds the chat's later ones, and at most one acknowledged, unfinished update per
   * chat is lost if the process dies.
   */
  #startHead (queued: Queued, next: () => void): void {
    this.#queued.delete(queued.update.update_id)
    if (queued.cancelled) {
      next()
      return
    }
    if (this.#budgets.delayMs === 0) {
      this.#ackedEarly++
      queued.answer('acked-early')
      // Ack first means the ack must not wait for the handler's synchronous start either (building
      // a request to the Bot API, say): start the turn's updates after their 2xx were written.
      if (this.#toStart.push([queued.update, next]) === 1) setImmediate(this.#startAcked)
      return
    }
    const budget = this.#budgets.add(() => {
      this.#ackedEarly++
      queued.answer('acked-early')
    })
    this.#run(queued.update, () => {
      budget.cancel()
      queued.answer('handled')
      next()
    })
  }

  readonly #startAcked = (): void => {
    const updates = this.#toStart
    this.#toStart = []
    for (const [update, next] of updates) this.#run(update, next)
  }

  /**
   * Runs the handler and calls whenDone once it finished, failed or timed out. A failure is logged
   * and its update still acknowledged, because a non-2xx makes Telegram resend it and stall the
   * whole chat behind it for up to 24 h.
   */
  #run (update: Update, whenDone: () => void): void {
    let finished = false
    const finish = (err?: unknown): void => {
      if (finished) return
      finished = true
      timeout.cancel()
      if (err !== undefined) {
        this.#failed++
        this.#log.error({ update_id: update.update_id, type: updateTypeOf(update), err }, 'update handler failed; update acknowledged anyway')
      }
      this.#finished()
      whenDone()
    }
    // Gives up on the handler, not stops it: its chat goes on, and a late finish is ignored.
    const timeout = this.#timeouts.add(() => { finish(new HandlerTimeoutError(this.#timeouts.delayMs)) })
    let work: Promise<void>
    try {
      work = this.#handle(update)
    } catch (err) {
      finish(err ?? new Error('update handler threw nothing'))
      return
    }
    work.then(() => { finish() }, (err: unknown) => { finish(err ?? new Error('update handler rejected with nothing')) })
  }

  /** One taken update less: wake drain() at zero, and let the oldest update waiting for room in. */
  #finished (): void {
    if (--this.#inFlight === 0) for (const wake of this.#idle.splice(0)) wake()
    // Room again: the oldest waiting update goes on (one that turns out a duplicate takes no room).
    while (this.#inFlight < this.#maxBacklog && this.#waitingForRoom.length > 0) this.#waitingForRoom.shift()?.()
  }

  /** Stop taking updates: accept() answers 'closed' from now on. */
  close (): void {
    this.#closed = true
    // Those waiting for room were neither claimed nor acknowledged: 'closed' (503), Telegram resends.
    for (const retry of this.#waitingForRoom.splice(0)) retry()
    // So were those waiting for their chat: released, so the resend is new to the next instance.
    for (const queued of this.#queued.values()) {
      queued.cancelled = true
      queued.answer('closed')
      Promise.resolve(this.#dedupe.release(queued.update.update_id)).catch((err: unknown) => {
        this.#log.error({ err, update_id: queued.update.update_id }, 'could not release an update at shutdown')
      })
      this.#finished()
    }
    this.#queued.clear()
  }

  get closed (): boolean {
    return this.#closed
  }

  get inFlight (): number {
    return this.#inFlight
  }

  /** Waits until every accepted update was handled; false when timeoutMs ran out first. */
  async drain (timeoutMs: number): Promise<boolean> {
    if (this.#inFlight === 0) return true
    const idle = new Promise<void>((resolve) => { this.#idle.push(resolve) })
    return await settlesWithin(idle, timeoutMs)
  }

  get stats (): IngressStats {
    return {
      accepted: this.#accepted,
      duplicates: this.#duplicates,
      failed: this.#failed,
      ackedEarly: this.#ackedEarly,
      inFlight: this.#inFlight,
      waitingForRoom: this.#waitingForRoom.length,
      waitingForChat: this.#queued.size,
      queuedChats: this.#queue.size
    }
  }
}

/** True when `work` (which never rejects) settles within ms, false when the time runs out first. */
export function settlesWithin (work: Promise<void>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms, false)
    work.then(() => {
      clearTimeout(timer)
      resolve(true)
    })
  })
}
