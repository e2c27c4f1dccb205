/**
 * One bot's pending updates, oldest first: what Telegram keeps for the bot until a webhook
 * delivery is acknowledged or getUpdates confirms it, or until the update outlives its lifetime.
 */
import type { Update } from 'telegraf/types'
import type { SandboxClock } from './clock.js'

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never
/** An update as created on Telegram's side, before it gets its update_id. */
export type UpdatePayload = DistributiveOmit<Update, 'update_id'>

/**
 * How long Telegram keeps an update of each kind, in seconds (Client.cpp add_update calls; API
 * #getting-updates: "at most 24 hours").
 */
export const UPDATE_LIFETIME_SECONDS = {
  message: 86_400,
  callbackQuery: 150,
  inlineQuery: 30
} as const

export interface QueuedUpdate {
  readonly id: number
  /** The update's kind: "message", "callback_query"... */
  readonly type: string
  /** Updates with one key are delivered one at a time, in order (Telegram's per-chat queues). */
  readonly queueKey: string
  /** Epoch ms after which Telegram no longer delivers it. */
  readonly expiresAt: number
  readonly update: Update
}

export class UpdateQueue {
  // update_id increases per bot (API #update). Starting at 1 keeps tests readable.
  private nextId = 1
  private items: QueuedUpdate[] = []

  /** `onExpired` hears of every update dropped for outliving its lifetime. */
  constructor (private readonly clock: SandboxClock, private readonly onExpired: (item: QueuedUpdate) => void = () => {}) {}

  push (payload: UpdatePayload, lifetimeSeconds: number, queueKey: string): QueuedUpdate {
    const id = this.nextId++
    const update = { update_id: id, ...payload } as Update
    const queued: QueuedUpdate = {
      id,
      type: updateType(payload),
      queueKey,
      expiresAt: this.clock.now() + this.clock.ms(lifetimeSeconds),
      update
    }
    this.items.push(queued)
    return queued
  }

  /** The live updates, oldest first; expired ones are dropped on the way. */
  pending (): readonly QueuedUpdate[] {
    const now = this.clock.now()
    for (const item of this.items.filter((item) => item.expiresAt < now)) this.expire(item.id)
    return this.items
  }

  /** Drops an update that has outlived (or would outlive, before its next try) its lifetime. */
  expire (id: number): void {
    const item = this.items.find((candidate) => candidate.id === id)
    if (item === undefined) return
    this.remove(id)
    this.onExpired(item)
  }

  remove (id: number): void {
    this.items = this.items.filter((item) => item.id !== id)
  }

  /** getUpdates' confirmation: every update below `offset` is acknowledged. */
  forgetBefore (offset: number): void {
    this.items = this.items.filter((item) => item.id >= offset)
  }

  /** getUpdates with a negative offset keeps only the last `count` updates. */
  keepLast (count: number): void {
    this.items = this.items.slice(-count)
  }

  /** drop_pending_updates. */
  clear (): void {
    this.items = []
  }

  /** The id the next update gets, used as the default getUpdates offset. */
  get headId (): number {
    return this.pending()[0]?.id ?? this.nextId
  }
}

export function updateType (payload: UpdatePayload): string {
  const type = Object.keys(payload).find((key) => key !== 'update_id')
  if (type === undefined) throw new TypeError('an update needs exactly one kind of payload')
  return type
}
