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

/**
 * A job of the queue: started with `done`, which it calls once it has finished (more calls are
 * ignored). Callbacks rather than promises, because every update passes through here.
 */
export type Job = (done: () => void) => void

/** Runs jobs of one key one after another, jobs of different keys concurrently. */
export class ChatQueue {
  /** A key is present while a job of it runs; its array holds the jobs waiting behind that one. */
  readonly #busy = new Map<ChatKey, Job[] | undefined>()

  run (key: ChatKey | undefined, job: Job): void {
    if (key === undefined) {
      job(noop)
      return
    }
    if (this.#busy.has(key)) {
      const waiting = this.#busy.get(key)
      if (waiting === undefined) this.#busy.set(key, [job])
      else waiting.push(job)
      return
    }
    this.#busy.set(key, undefined)
    this.#start(key, job)
  }

  #start (key: ChatKey, job: Job): void {
    let called = false
    job(() => {
      if (called) return
      called = true
      const next = this.#busy.get(key)?.shift()
      if (next === undefined) this.#busy.delete(key)
      else this.#start(key, next)
    })
  }

  /** Chats with work queued or running. */
  get size (): number {
    return this.#busy.size
  }
}

function noop (): void {}
