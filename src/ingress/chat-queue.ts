// Telegram keeps one queue per chat and sends a chat's next update only after the previous one got
// its 2xx (server code, WebhookActor.cpp). When we ack before the bot has finished (the handler
// budget ran out), that order would be lost unless we keep it ourselves: this is that queue.
import type { Update } from 'telegraf/types'

export type ChatKey = number | string

/**
 * The queue an update belongs to, as Telegram's own queues: the chat for messages and member
 * updates, the user for callback, inline, shipping and pre-checkout queries. A private chat's id is
 * its user's id, so a user's button presses stay ordered with their messages (stricter than
 * Telegram, never looser). undefined = no order to keep (a poll's state, for example).
 */
export function chatKeyOf (update: Update): ChatKey | undefined {
  for (const key in update) {
    if (key === 'update_id') continue
    const payload = (update as unknown as Record<string, unknown>)[key]
    if (typeof payload !== 'object' || payload === null) continue
    const p = payload as { chat?: { id?: unknown }, from?: { id?: unknown }, user?: { id?: unknown } }
    const id = p.chat?.id ?? p.from?.id ?? p.user?.id
    return typeof id === 'number' || typeof id === 'string' ? id : undefined
  }
  return undefined
}

/** Runs tasks of one key one after another, tasks of different keys concurrently. */
export class ChatQueue {
  readonly #tails = new Map<ChatKey, Promise<void>>()

  run (key: ChatKey | undefined, task: () => Promise<void>): Promise<void> {
    if (key === undefined) return task()
    const previous = this.#tails.get(key)
    // A failed task must not stop its chat: the next one runs either way.
    const current = previous === undefined ? task() : previous.then(task, task)
    this.#tails.set(key, current)
    const forget = (): void => {
      if (this.#tails.get(key) === current) this.#tails.delete(key)
    }
    current.then(forget, forget)
    return current
  }

  /** Chats with work queued or running. */
  get size (): number {
    return this.#tails.size
  }
}
