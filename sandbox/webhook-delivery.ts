/**
 * Pushes a bot's pending updates to its webhook the way Telegram's WebhookActor does:
 * - one update per POST; updates are queued per chat (per user for callback and inline queries)
 *   and only the head of a queue is in flight, the next one goes after a 2xx;
 * - at most max_connections POSTs in flight, but only one while the webhook has had no success
 *   in the last 10 s (a fresh or failing webhook is probed through one connection);
 * - only the oldest 2 x max_connections pending updates are considered at all, so a chat with a
 *   long failing backlog can hold back others, as it does on Telegram;
 * - a failure is retried on Telegram's schedule (retry-schedule.ts), honouring Retry-After, and
 *   an update whose next retry would outlive it is dropped;
 * - a 2xx answer carrying {"method": ...} is handed back to be executed.
 */
import http from 'node:http'
import type { SandboxClock } from './clock.js'
import type { DeliveryLedger, DeliveryRecord } from './delivery-ledger.js'
import { FIRST_RETRY_STATE, planRetry, type RetryState } from './retry-schedule.js'
import type { QueuedUpdate, UpdateQueue } from './update-queue.js'
import { postUpdate, type PostOutcome, type WebhookPost } from './webhook-post.js'

export interface WebhookTarget {
  url: URL
  secretToken: string
  maxConnections: number
}

export interface DeliveryHooks {
  /** A failure, in getWebhookInfo's last_error_message words. */
  onWebhookError: (message: string) => void
  /** The body of a 2xx answer, which may name a method to execute. */
  onAnswer: (contentType: string | undefined, body: Buffer) => void
}

// Seconds (Telegram time). WebhookActor: the 60 s read timeout, and the 10 s after the last
// success during which more than one connection is used.
const RESPONSE_TIMEOUT_SECONDS = 60
const ACTIVE_WINDOW_SECONDS = 10

interface Pending extends RetryState {
  /** Epoch ms before which this update is not sent again. */
  wakeAt: number
}

export class WebhookDeliverer {
  private readonly agent: http.Agent
  private readonly inFlight = new Map<number, { queueKey: string, post: WebhookPost }>()
  private readonly retries = new Map<number, Pending>()
  private lastSuccessAt = Number.NEGATIVE_INFINITY
  private cancelWake: (() => void) | undefined
  private stopped = false

  constructor (
    readonly target: WebhookTarget,
    private readonly queue: UpdateQueue,
    private readonly clock: SandboxClock,
    private readonly ledger: DeliveryLedger,
    private readonly hooks: DeliveryHooks
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: target.maxConnections })
  }

  /** New updates were queued, or something finished: send whatever may go now. */
  pump (): void {
    if (this.stopped) return
    const now = this.clock.now()
    const { ready, nextWakeAt } = this.readyHeads(now)
    const capacity = this.connectionCap(now)
    for (const item of ready) {
      if (this.inFlight.size >= capacity) break
      this.send(item)
    }
    this.wakeAt(nextWakeAt)
  }

  stop (): void {
    this.stopped = true
    this.cancelWake?.()
    for (const { post } of this.inFlight.values()) post.abort()
    this.inFlight.clear()
    this.agent.destroy()
  }

  /** Heads of the per-chat queues that may be sent now, soonest first, and when the next one wakes. */
  private readyHeads (now: number): { ready: QueuedUpdate[], nextWakeAt: number } {
    const loaded = this.queue.pending().slice(0, 2 * this.target.maxConnections)
    const busyKeys = new Set([...this.inFlight.values()].map((flight) => flight.queueKey))
    const seenKeys = new Set<string>()
    const ready: QueuedUpdate[] = []
    let nextWakeAt = Number.POSITIVE_INFINITY
    for (const item of loaded) {
      if (seenKeys.has(item.queueKey)) continue
      seenKeys.add(item.queueKey)
      if (busyKeys.has(item.queueKey)) continue
      const wakeAt = this.retries.get(item.id)?.wakeAt ?? 0
      if (wakeAt > now) nextWakeAt = Math.min(nextWakeAt, wakeAt)
      else ready.push(item)
    }
    const wakeOf = (item: QueuedUpdate): number => this.retries.get(item.id)?.wakeAt ?? 0
    ready.sort((a, b) => wakeOf(a) - wakeOf(b) || a.id - b.id)
    return { ready, nextWakeAt }
  }

  private connectionCap (now: number): number {
    const active = now - this.lastSuccessAt <= this.clock.ms(ACTIVE_WINDOW_SECONDS)
    return active ? this.target.maxConnections : 1
  }

  private wakeAt (at: number): void {
    this.cancelWake?.()
    this.cancelWake = undefined
    if (at === Number.POSITIVE_INFINITY) return
    const seconds = Math.max(0, at - this.clock.now()) / this.clock.ms(1)
    this.cancelWake = this.clock.after(seconds, () => { this.pump() })
  }

  private send (item: QueuedUpdate): void {
    const retry = this.retries.get(item.id) ?? { ...FIRST_RETRY_STATE, wakeAt: 0 }
    const record = this.ledger.started(item.id, retry.failCount + 1, this.clock.now())
    const post = postUpdate({
      url: this.target.url,
      secretToken: this.target.secretToken,
      body: JSON.stringify(item.update),
      agent: this.agent,
      timeoutMs: this.clock.ms(RESPONSE_TIMEOUT_SECONDS)
    })
    this.inFlight.set(item.id, { queueKey: item.queueKey, post })
    post.done.then((outcome) => { this.settle(item, retry, record, outcome) }, () => {})
  }

  private settle (item: QueuedUpdate, retry: Pending, record: DeliveryRecord, outcome: PostOutcome): void {
    if (this.stopped) {
      this.ledger.abandoned(record)
      return
    }
    this.inFlight.delete(item.id)
    const now = this.clock.now()
    if (outcome.ok) {
      this.ledger.finished(record, now, { status: outcome.status, reachedWebhook: true })
      this.succeeded(item, now)
      this.hooks.onAnswer(outcome.contentType, outcome.body)
    } else {
      this.ledger.finished(record, now, { status: outcome.status, error: outcome.message, reachedWebhook: outcome.reachedWebhook })
      this.hooks.onWebhookError(outcome.message)
      this.failed(item, retry, outcome.retryAfterSeconds, now)
    }
    this.pump()
  }

  private succeeded (item: QueuedUpdate, now: number): void {
    this.lastSuccessAt = now
    this.retries.delete(item.id)
    this.queue.remove(item.id)
  }

  private failed (item: QueuedUpdate, retry: Pending, retryAfterSeconds: number, now: number): void {
    const plan = planRetry(retry, retryAfterSeconds)
    const wakeAt = now + this.clock.ms(plan.waitSeconds)
    // Telegram drops an update rather than retry it past its lifetime (on_update_error).
    if (wakeAt > item.expiresAt) {
      this.retries.delete(item.id)
      this.queue.expire(item.id)
      return
    }
    this.retries.set(item.id, { ...plan.next, wakeAt })
  }
}
