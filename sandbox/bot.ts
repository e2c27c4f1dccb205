/**
 * One bot as Telegram's server holds it: its pending updates, its webhook (or its getUpdates
 * long poll), the allowed update types, and the webhook error state getWebhookInfo reports.
 */
import type { BotCommand, Update, UserFromGetMe, WebhookInfo } from 'telegraf/types'
import { DEFAULT_ALLOWED_UPDATES, isDefaultAllowed, listAllowed, parseAllowedUpdates } from './allowed-updates.js'
import { BotApiError, CONFLICT, conflict, tooManyRequests } from './api-error.js'
import type { SandboxClock } from './clock.js'
import { Conversations } from './conversations.js'
import { DeliveryLedger } from './delivery-ledger.js'
import type { ApiCallRecord } from './methods.js'
import type { RequestArgs } from './request-args.js'
import type { MethodScript } from './scripts.js'
import { UpdateQueue, updateType, type QueuedUpdate, type UpdatePayload } from './update-queue.js'
import { WebhookDeliverer } from './webhook-delivery.js'
import {
  defaultMaxConnections, readWebhookSettings, sameWebhook, validateWebhook, webhookIpAddress,
  type ServerMode, type WebhookSettings
} from './webhook-settings.js'

export interface MethodAnswer {
  result: unknown
  /** Telegram adds one to a few answers, e.g. "Webhook was set". */
  description?: string
}

export interface SandboxBotOptions {
  user: UserFromGetMe
  mode: ServerMode
  clock: SandboxClock
  /** Telegram's one setWebhook per second; off for tests that set it faster on purpose. */
  paceSetWebhook: boolean
  /** Executes a method named in a 2xx webhook answer. */
  onWebhookAnswer: (contentType: string | undefined, body: Buffer) => void
}

/** Webhook state a test needs Telegram to hold already, in getWebhookInfo's words. */
export interface WebhookPreset {
  /** '' removes the webhook. */
  url?: string
  max_connections?: number
  last_error_date?: number
  last_error_message?: string
}

interface LongPoll {
  offset: number
  limit: number
  resolve: (updates: Update[]) => void
  reject: (error: BotApiError) => void
  cancelTimer: () => void
}

// Seconds (Telegram time). Client.cpp: one setWebhook with a URL per second; a 409 conflict is
// answered at most once per 3 s (later ones wait); a long poll lasts at most 50 s.
const SET_WEBHOOK_INTERVAL_SECONDS = 1
const CONFLICT_INTERVAL_SECONDS = 3
const LONG_POLL_MAX_TIMEOUT_SECONDS = 50
const MAX_CALL_RECORDS = 1000

export class SandboxBot {
  readonly user: UserFromGetMe
  readonly queue: UpdateQueue
  readonly ledger = new DeliveryLedger()
  readonly conversations: Conversations
  /** setMyCommands / getMyCommands. */
  commands: BotCommand[] = []

  private readonly callLog: ApiCallRecord[] = []
  private readonly scripts = new Map<string, MethodScript>()

  private webhook: WebhookSettings | undefined
  private deliverer: WebhookDeliverer | undefined
  private lastError: { date: number, message: string } | undefined
  private allowedUpdates = DEFAULT_ALLOWED_UPDATES
  private nextSetWebhookAt = 0
  private nextConflictAt = 0
  private longPoll: LongPoll | undefined

  constructor (private readonly options: SandboxBotOptions) {
    this.user = options.user
    this.queue = new UpdateQueue(options.clock, () => { this.ledger.expired() })
    this.conversations = new Conversations(options.user, options.clock)
  }

  private get clock (): SandboxClock {
    return this.options.clock
  }

  /**
   * Creates an update on Telegram's side. Types outside allowed_updates are never created, so
   * they take no update_id (Client.cpp add_update_impl).
   */
  addUpdate (payload: UpdatePayload, lifetimeSeconds: number, queueKey: string): QueuedUpdate | undefined {
    if (!this.allowedUpdates.has(updateType(payload))) return undefined
    const queued = this.queue.push(payload, lifetimeSeconds, queueKey)
    if (this.deliverer !== undefined) this.deliverer.pump()
    else this.wakeLongPoll()
    return queued
  }

  webhookInfo (): WebhookInfo {
    const info: WebhookInfo = {
      url: this.webhook?.url ?? '',
      has_custom_certificate: false,
      pending_update_count: this.queue.pending().length
    }
    if (this.lastError !== undefined) {
      info.last_error_date = this.lastError.date
      info.last_error_message = this.lastError.message
    }
    if (this.webhook !== undefined) {
      info.max_connections = this.webhook.maxConnections
      info.ip_address = webhookIpAddress(this.webhook.url)
    }
    if (!isDefaultAllowed(this.allowedUpdates)) info.allowed_updates = listAllowed(this.allowedUpdates)
    return info
  }

  /** What the bot's webhook deliveries carry in X-Telegram-Bot-Api-Secret-Token (getWebhookInfo hides it). */
  get webhookSecretToken (): string | undefined {
    return this.webhook?.secretToken
  }

  /** setWebhook and deleteWebhook (deleteWebhook is setWebhook without a URL, as on Telegram). */
  setWebhook (method: 'setwebhook' | 'deletewebhook', args: RequestArgs): MethodAnswer {
    const url = method === 'setwebhook' ? args.string('url') : ''
    if (url !== '') this.claimSetWebhookSlot()
    const next = url === '' ? undefined : readWebhookSettings(args, url, this.options.mode)
    const dropPending = args.bool('drop_pending_updates')
    if (sameWebhook(this.webhook, next) && !dropPending) {
      this.updateAllowedUpdates(args)
      return { result: true, description: url === '' ? 'Webhook is already deleted' : 'Webhook is already set' }
    }
    if (url !== '') this.abortLongPoll(CONFLICT.setWebhook)
    const hadWebhook = this.webhook !== undefined
    // Telegram closes the old webhook before it checks the new one, so a refused setWebhook leaves
    // the bot with no webhook at all (Client.cpp: on_webhook_closed, then do_set_webhook).
    this.closeWebhook()
    if (dropPending) this.queue.clear()
    if (next === undefined) {
      return { result: true, description: hadWebhook ? 'Webhook was deleted' : 'Webhook is already deleted' }
    }
    const target = validateWebhook(next, this.options.mode)
    this.updateAllowedUpdates(args)
    this.openWebhook(next, target)
    return { result: true, description: 'Webhook was set' }
  }

  private claimSetWebhookSlot (): void {
    if (!this.options.paceSetWebhook) return
    const now = this.clock.now()
    if (now < this.nextSetWebhookAt) throw tooManyRequests(SET_WEBHOOK_INTERVAL_SECONDS)
    this.nextSetWebhookAt = now + this.clock.ms(SET_WEBHOOK_INTERVAL_SECONDS)
  }

  private openWebhook (settings: WebhookSettings, url: URL): void {
    this.webhook = settings
    this.deliverer = new WebhookDeliverer(
      { url, secretToken: settings.secretToken, maxConnections: settings.maxConnections },
      this.queue, this.clock, this.ledger,
      {
        onWebhookError: (message) => {
          this.lastError = { date: Math.floor(this.clock.now() / 1000), message }
        },
        onAnswer: this.options.onWebhookAnswer
      }
    )
    this.deliverer.pump()
  }

  /**
   * Merges `preset` into the webhook state, unchecked, as if set earlier by someone else. Nothing
   * is delivered to a preset webhook (it names no receiver the test runs) until a setWebhook that
   * changes it opens it again.
   */
  presetWebhook (preset: WebhookPreset): void {
    this.deliverer?.stop()
    this.deliverer = undefined
    const url = preset.url ?? this.webhook?.url ?? ''
    this.webhook = url === ''
      ? undefined
      : {
          url,
          maxConnections: preset.max_connections ?? this.webhook?.maxConnections ?? defaultMaxConnections(this.options.mode),
          secretToken: this.webhook?.secretToken ?? ''
        }
    if (preset.last_error_date !== undefined || preset.last_error_message !== undefined) {
      this.lastError = {
        date: preset.last_error_date ?? this.lastError?.date ?? Math.floor(this.clock.now() / 1000),
        message: preset.last_error_message ?? this.lastError?.message ?? ''
      }
    }
  }

  private closeWebhook (): void {
    this.deliverer?.stop()
    this.deliverer = undefined
    this.webhook = undefined
    this.lastError = undefined
  }

  private updateAllowedUpdates (args: RequestArgs): void {
    this.allowedUpdates = parseAllowedUpdates(args.string('allowed_updates')) ?? this.allowedUpdates
  }

  /** getUpdates with Telegram's offset confirmation, long polling and conflicts. */
  async getUpdates (args: RequestArgs): Promise<Update[]> {
    if (this.webhook !== undefined) throw await this.conflictError(CONFLICT.webhookActive)
    const limit = args.int('limit', 100, 1, 100)
    const timeout = args.int('timeout', 0, 0, LONG_POLL_MAX_TIMEOUT_SECONDS)
    this.updateAllowedUpdates(args)
    const offset = this.confirmUpTo(args.int('offset', 0))
    const found = this.updatesFrom(offset, limit)
    if (found.length > 0 || timeout === 0) return found
    this.abortLongPoll(CONFLICT.otherGetUpdates)
    return await new Promise<Update[]>((resolve, reject) => {
      const cancelTimer = this.clock.after(timeout, () => { this.finishLongPoll([]) })
      this.longPoll = { offset, limit, resolve, reject, cancelTimer }
    })
  }

  /**
   * An offset confirms every update below it; a negative one keeps only the last -offset
   * updates; none (or 0) starts from the oldest pending one.
   */
  private confirmUpTo (offset: number): number {
    if (offset < 0) this.queue.keepLast(-offset)
    const from = offset <= 0 ? this.queue.headId : offset
    this.queue.forgetBefore(from)
    return from
  }

  private updatesFrom (offset: number, limit: number): Update[] {
    return this.queue.pending().filter((item) => item.id >= offset).slice(0, limit).map((item) => item.update)
  }

  private wakeLongPoll (): void {
    if (this.longPoll === undefined) return
    const found = this.updatesFrom(this.longPoll.offset, this.longPoll.limit)
    if (found.length > 0) this.finishLongPoll(found)
  }

  private finishLongPoll (updates: Update[]): void {
    const poll = this.longPoll
    this.longPoll = undefined
    poll?.cancelTimer()
    poll?.resolve(updates)
  }

  private abortLongPoll (text: string): void {
    const poll = this.longPoll
    if (poll === undefined) return
    this.longPoll = undefined
    poll.cancelTimer()
    this.conflictError(text).then(poll.reject, poll.reject)
  }

  // Telegram answers at most one 409 at once per 3 s; another one within that window is held
  // for 3 s before it is answered (fail_query_conflict), which slows down fighting pollers.
  private async conflictError (text: string): Promise<BotApiError> {
    const now = this.clock.now()
    if (now >= this.nextConflictAt) {
      this.nextConflictAt = now + this.clock.ms(CONFLICT_INTERVAL_SECONDS)
    } else {
      await this.clock.sleep(CONFLICT_INTERVAL_SECONDS)
    }
    return conflict(text)
  }

  recordCall (record: ApiCallRecord): void {
    this.callLog.push(record)
    if (this.callLog.length > MAX_CALL_RECORDS) this.callLog.shift()
  }

  calls (): readonly ApiCallRecord[] {
    return this.callLog
  }

  /** Replaces the answer to `method` (any spelling) with `script`; undefined restores the emulator's. */
  script (method: string, script: MethodScript | undefined): void {
    if (script === undefined) this.scripts.delete(method.toLowerCase())
    else this.scripts.set(method.toLowerCase(), script)
  }

  scriptFor (method: string): MethodScript | undefined {
    return this.scripts.get(method.toLowerCase())
  }

  close (): void {
    this.closeWebhook()
    this.finishLongPoll([])
  }
}
