// Durable mode's ingress: an update is taken when its row and its job are committed (store.ts), and
// the bot runs it later on a worker. The webhook answers 200 for 'stored' and 'duplicate' only;
// a failing database gives 'unavailable' (503), so Telegram keeps the update and tries again.
import type { Update } from 'telegraf/types'
import { settlesWithin, type AcceptOutcome, type UpdateIngress } from '../ingress/ingress.js'
import { RepeatedWarning, type Log } from '../logger.js'
import type { DurableStore } from './store.js'

export interface DurableIngressStats extends Record<string, number> {
  stored: number
  duplicates: number
  /** Updates refused with a 503 because the database failed. */
  unavailable: number
  /** Commits in flight. */
  inFlight: number
}

export class DurableIngress implements UpdateIngress {
  readonly #store: DurableStore
  readonly #unavailable: RepeatedWarning
  #closed = false
  #inFlight = 0
  readonly #idle: Array<() => void> = []
  #stored = 0
  #duplicates = 0
  #refused = 0

  constructor (store: DurableStore, log: Log, warningIntervalMs?: number) {
    this.#store = store
    this.#unavailable = new RepeatedWarning(log, 'update not stored: the database failed; answered 503, Telegram will deliver it again', warningIntervalMs)
  }

  accept (update: Update): Promise<AcceptOutcome> {
    if (this.#closed) return Promise.resolve('closed')
    this.#inFlight++
    return this.#store.store(update).then((outcome): AcceptOutcome => {
      if (outcome === 'stored') this.#stored++
      else this.#duplicates++
      return outcome
    }, (err: unknown): AcceptOutcome => {
      this.#refused++
      const e = err as { message?: string, code?: string }
      this.#unavailable.note({ update_id: update.update_id, err: { message: e.message, code: e.code } })
      return 'unavailable'
    }).finally(() => {
      if (--this.#inFlight === 0) for (const wake of this.#idle.splice(0)) wake()
    })
  }

  get closed (): boolean {
    return this.#closed
  }

  get inFlight (): number {
    return this.#inFlight
  }

  close (): void {
    this.#closed = true
    this.#unavailable.flush()
  }

  /** Waits for the commits in flight (each ends within the pool's query deadline). */
  async drain (timeoutMs: number): Promise<boolean> {
    if (this.#inFlight === 0) return true
    return await settlesWithin(new Promise((resolve) => { this.#idle.push(resolve) }), timeoutMs)
  }

  get stats (): DurableIngressStats {
    return { stored: this.#stored, duplicates: this.#duplicates, unavailable: this.#refused, inFlight: this.#inFlight }
  }
}
