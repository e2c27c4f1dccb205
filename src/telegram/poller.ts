// Polling for local development, feeding the same ingress as the webhook (dedupe, per-chat order,
// error logging). Hand-written instead of Telegraf's launch(): launch() deletes any webhook first,
// and a 409 must stop us at once instead of retrying in silence.
import { setTimeout as sleep } from 'node:timers/promises'
import type { Log } from '../logger.js'
import type { Telegram } from 'telegraf'
import type { Update } from 'telegraf/types'
import type { UpdateIngress } from '../ingress/ingress.js'
import { describeError, telegramCode } from './errors.js'
import { retryDelayMs, StartupError } from './startup.js'

const CONFLICT_ADVICE: Array<[string, string]> = [
  ['terminated by other getUpdates request', 'Another process is polling with this bot token. Only one process may poll a bot: stop the other instance, or use a separate bot token for development.'],
  ['webhook is active', 'A webhook is set for this bot, so Telegram refuses polling. Use a separate bot token for development, or delete the webhook first (TELEGRAM_DELETE_WEBHOOK_FOR_POLLING=true).'],
  ['terminated by setWebhook request', 'Someone set a webhook for this bot while we were polling: production may have started with this token. Use a separate bot token for development.']
]

/** Turns Telegram's 409 into the operator's next step. */
export function conflictMessage (description: string): string {
  const advice = CONFLICT_ADVICE.find(([text]) => description.includes(text))?.[1] ?? 'Another consumer of this bot token is active.'
  return `Polling stopped, Telegram answered 409 (${description}). ${advice}`
}

export interface PollerOptions {
  allowedUpdates: string[] | undefined
  /** Long-poll timeout in seconds. */
  timeoutSeconds?: number
  retryDelayMs?: number
}

export class Poller {
  readonly #abort = new AbortController()
  #done: Promise<void> | undefined
  #ended = false

  constructor (
    private readonly telegram: Telegram,
    private readonly ingress: UpdateIngress,
    private readonly log: Log,
    private readonly options: PollerOptions
  ) {}

  /** Starts polling; the promise settles when polling ends, rejecting with a StartupError on a 409 or bad token. */
  start (): Promise<void> {
    this.#done ??= this.#loop().finally(() => { this.#ended = true })
    return this.#done
  }

  /** Started and not ended: false after stop(), and after a 409, a bad token or shutdown ended it. */
  get running (): boolean {
    return this.#done !== undefined && !this.#ended && !this.#abort.signal.aborted
  }

  async stop (): Promise<void> {
    this.#abort.abort()
    await this.#done?.catch(() => {})
  }

  async #loop (): Promise<void> {
    const { signal } = this.#abort
    const { timeoutSeconds = 30, retryDelayMs: retryDelay = 1000 } = this.options
    let offset = 0
    let failures = 0
    while (!signal.aborted) {
      let updates: Update[]
      try {
        updates = await this.telegram.callApi('getUpdates', {
          offset,
          timeout: timeoutSeconds,
          ...(this.options.allowedUpdates !== undefined && { allowed_updates: this.options.allowedUpdates as never })
        // Telegraf types the signal with the abort-controller shim; node-fetch accepts Node's own.
        }, { signal: signal as never })
        failures = 0
      } catch (err) {
        if (signal.aborted) return
        if (telegramCode(err) === 409) throw new StartupError(conflictMessage((err as { description: string }).description))
        const delayMs = retryDelayMs('getUpdates', err, ++failures, retryDelay)
        this.log.warn({ delay_ms: delayMs, error: describeError(err) }, 'getUpdates failed, retrying')
        await sleep(delayMs, undefined, { signal }).catch(() => {})
        continue
      }
      for (const update of updates) {
        const outcome = await this.ingress.accept(update)
        if (outcome === 'closed') return
        if (outcome === 'unavailable') {
          // Durable mode with the database down: not confirmed, so the next getUpdates (after a
          // pause) returns this update again.
          await sleep(retryDelay, undefined, { signal }).catch(() => {})
          break
        }
        // The next getUpdates with offset = id + 1 confirms everything before it to Telegram.
        offset = update.update_id + 1
      }
    }
  }
}
