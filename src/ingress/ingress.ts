// The path of one accepted update: dedupe -> the chat's queue -> the bot, raced against the handler
// budget. Knows nothing about HTTP or Telegraf: it is handed a `handle` function.
import type { Log } from '../logger.js'
import type { Update } from 'telegraf/types'
import { ChatQueue, chatKeyOf } from './chat-queue.js'
import { MemoryDedupe, type UpdateDedupe } from './dedupe.js'

/** What the webhook should answer: 'closed' is the only outcome that is not a 200. */
export type AcceptOutcome = 'handled' | 'acked-early' | 'duplicate' | 'closed'

export type UpdateHandler = (update: Update) => Promise<void>

export interface IngressOptions {
  handle: UpdateHandler
  log: Log
  /** How long accept() waits for the handler before answering anyway; 0 = answer at once. */
  budgetMs: number
  dedupe?: UpdateDedupe
}

export interface IngressStats {
  accepted: number
  duplicates: number
  failed: number
  ackedEarly: number
  inFlight: number
  queuedChats: number
}

/** The update's type, as Telegraf names it: the one field besides update_id. */
export function updateTypeOf (update: Update): string {
  for (const key in update) if (key !== 'update_id') return key
  return 'unknown'
}

export class Ingress {
  readonly #handle: UpdateHandler
  readonly #log: Log
  readonly #budgetMs: number
  readonly #dedupe: UpdateDedupe
  readonly #queue = new ChatQueue()
  #closed = false
  #inFlight = 0
  #idle: Array<() => void> = []
  #accepted = 0
  #duplicates = 0
  #failed = 0
  #ackedEarly = 0

  constructor (options: IngressOptions) {
    this.#handle = options.handle
    this.#log = options.log
    this.#budgetMs = options.budgetMs
    this.#dedupe = options.dedupe ?? new MemoryDedupe()
  }

  async accept (update: Update): Promise<AcceptOutcome> {
    if (this.#closed) return 'closed'
    const id = update.update_id
    const claimed = this.#dedupe.claim(id)
    // The in-memory window answers at once: awaiting its boolean would still cost a microtask turn.
    if (!(typeof claimed === 'boolean' ? claimed : await claimed)) {
      this.#duplicates++
      return 'duplicate'
    }
    if (this.#closed) {
      // Closed while the claim was in flight: let Telegram's resend reach the next instance.
      await this.#dedupe.release(id)
      return 'closed'
    }
    this.#accepted++
    this.#inFlight++
    const done = this.#queue.run(chatKeyOf(update), () => this.#handleLogged(update))
    if (this.#budgetMs === 0 || !(await settlesWithin(done, this.#budgetMs))) {
      this.#ackedEarly++
      return 'acked-early'
    }
    return 'handled'
  }

  /**
   * Never rejects: a failing handler is logged and its update still acknowledged, because a non-2xx
   * makes Telegram resend it and stall the whole chat behind it for up to 24 h.
   */
  async #handleLogged (update: Update): Promise<void> {
    try {
      await this.#handle(update)
    } catch (err) {
      this.#failed++
      this.#log.error({ update_id: update.update_id, type: updateTypeOf(update), err }, 'update handler failed; update acknowledged anyway')
    } finally {
      if (--this.#inFlight === 0) for (const wake of this.#idle.splice(0)) wake()
    }
  }

  /** Stop taking updates: accept() answers 'closed' from now on. */
  close (): void {
    this.#closed = true
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
      queuedChats: this.#queue.size
    }
  }
}

/** True when `work` (which never rejects) settles within ms, false when the time runs out first. */
function settlesWithin (work: Promise<void>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms, false)
    work.then(() => {
      clearTimeout(timer)
      resolve(true)
    })
  })
}
