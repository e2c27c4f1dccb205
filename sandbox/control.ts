/**
 * The control API of one emulated bot: act as a Telegram user (inject updates) and observe the
 * bot (what it sent, how deliveries went). Tests use it in-process; the sandbox UI and other
 * processes reach the same methods over HTTP (control-routes.ts).
 */
import type { Chat, Update, User, UserFromGetMe, WebhookInfo } from 'telegraf/types'
import type { SandboxBot, WebhookPreset } from './bot.js'
import type { SentMessage } from './conversations.js'
import type { DeliveryRecord, DeliveryStats } from './delivery-ledger.js'
import type { ApiCallRecord } from './methods.js'
import type { MethodScript } from './scripts.js'
import { UPDATE_LIFETIME_SECONDS, type UpdatePayload } from './update-queue.js'
import {
  SANDBOX_USER, callbackQuery, privateChatOf, queueKeyOfCallbacks, queueKeyOfChat, textMessage, voiceMessage,
  type MessageHeader, type UserChat
} from './user-updates.js'

export interface InjectAs {
  /** The sender; the sandbox user when omitted. */
  from?: User
  /** The chat (private or group); the sender's private chat when omitted. */
  chat?: UserChat
}

export interface InjectVoice extends InjectAs {
  durationSeconds?: number
  fileSizeBytes?: number
}

export interface InjectCallbackQuery {
  from?: User
  /** The chat of the bot message whose button was pressed; the sender's private chat by default. */
  chatId?: number
  /** That message; the bot's latest message in the chat by default. */
  messageId?: number
}

export interface InjectRaw {
  /** Which delivery queue the update joins; one queue per update when omitted. */
  queueKey?: string
  lifetimeSeconds?: number
}

export interface WaitForSent {
  /** Only messages to this chat; all chats when omitted. */
  chatId?: number
  /** Skip the first `since` matching messages (take a count before acting). Default 0. */
  since?: number
  /** How many messages past `since` to wait for. Default 1. */
  count?: number
  timeoutMs?: number
}

/** What an inject returns: the update as queued, or undefined if allowed_updates filtered it out. */
export type Injected = Update | undefined

export class BotControl {
  private rawCounter = 0

  constructor (private readonly bot: SandboxBot) {}

  get botUser (): UserFromGetMe {
    return this.bot.user
  }

  injectText (text: string, as: InjectAs = {}): Injected {
    const header = this.userMessageHeader(as)
    return this.injectMessage(header, textMessage(header, text))
  }

  /** `/command args`, marked as a bot_command entity the way Telegram marks it. */
  injectCommand (command: string, args = '', as: InjectAs = {}): Injected {
    const text = `/${command.replace(/^\//, '')}${args === '' ? '' : ` ${args}`}`
    return this.injectText(text, as)
  }

  injectVoice (voice: InjectVoice = {}): Injected {
    const header = this.userMessageHeader(voice)
    const file = this.bot.conversations.storeFile('voice', voice.fileSizeBytes ?? 4096, 'oga')
    return this.injectMessage(header, voiceMessage(header, file, voice.durationSeconds ?? 2))
  }

  injectCallbackQuery (data: string, press: InjectCallbackQuery = {}): Injected {
    const from = press.from ?? SANDBOX_USER
    const chatId = press.chatId ?? from.id
    const messageId = press.messageId ?? this.bot.conversations.sent(chatId).at(-1)?.message.message_id
    const message = messageId === undefined ? undefined : this.bot.conversations.botMessage(chatId, messageId)
    const id = this.bot.conversations.newCallbackQueryId()
    return this.bot.addUpdate(
      { callback_query: callbackQuery(id, from, message, data) },
      UPDATE_LIFETIME_SECONDS.callbackQuery,
      queueKeyOfCallbacks(from.id)
    )?.update
  }

  /** Any update shape, for kinds without a helper (my_chat_member, inline_query...). */
  injectUpdate (payload: UpdatePayload, raw: InjectRaw = {}): Injected {
    return this.bot.addUpdate(
      payload,
      raw.lifetimeSeconds ?? UPDATE_LIFETIME_SECONDS.message,
      raw.queueKey ?? `raw:${++this.rawCounter}`
    )?.update
  }

  private userMessageHeader (as: InjectAs): MessageHeader {
    const from = as.from ?? SANDBOX_USER
    const chat = as.chat ?? privateChatOf(from)
    this.bot.conversations.rememberChat(chat)
    return {
      message_id: this.bot.conversations.nextMessageId(chat.id),
      from,
      chat,
      date: Math.floor(Date.now() / 1000)
    }
  }

  private injectMessage (header: MessageHeader, message: Update.MessageUpdate['message']): Injected {
    return this.bot.addUpdate({ message }, UPDATE_LIFETIME_SECONDS.message, queueKeyOfChat(header.chat.id))?.update
  }

  /** What the bot sent (sendMessage, send* media, edits), oldest first. */
  sent (chatId?: number): SentMessage[] {
    return this.bot.conversations.sent(chatId)
  }

  onSent (listener: (sent: SentMessage) => void): () => void {
    return this.bot.conversations.onSent(listener)
  }

  /** Resolves with the messages past `since` once there are `count` of them; rejects on timeout. */
  async waitForSent (wait: WaitForSent = {}): Promise<SentMessage[]> {
    const since = wait.since ?? 0
    const count = wait.count ?? 1
    const timeoutMs = wait.timeoutMs ?? 5000
    const arrived = (): SentMessage[] => this.sent(wait.chatId).slice(since)
    if (arrived().length >= count) return arrived()
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        stop()
        const chat = wait.chatId === undefined ? 'any chat' : `chat ${wait.chatId}`
        reject(new Error(`waited ${timeoutMs} ms for ${count} message(s) to ${chat}; got ${arrived().length}`))
      }, timeoutMs)
      const stop = this.onSent(() => {
        if (arrived().length < count) return
        clearTimeout(timer)
        stop()
        resolve(arrived())
      })
    })
  }

  webhookInfo (): WebhookInfo {
    return this.bot.webhookInfo()
  }

  /** The secret_token of the webhook, which getWebhookInfo never shows; undefined without a webhook. */
  webhookSecretToken (): string | undefined {
    return this.bot.webhookSecretToken
  }

  deliveryStats (): DeliveryStats {
    return this.bot.ledger.snapshot().stats
  }

  deliveries (): DeliveryRecord[] {
    return this.bot.ledger.snapshot().records
  }

  /** Bot API calls the bot made (including methods executed from webhook answers). */
  calls (method?: string): ApiCallRecord[] {
    const wanted = method?.toLowerCase()
    return this.bot.calls().filter((call) => wanted === undefined || call.method.toLowerCase() === wanted)
  }

  pendingUpdates (): Update[] {
    return this.bot.queue.pending().map((item) => item.update)
  }

  // Scripting hooks: what a test needs of Telegram that no user action produces.

  /**
   * Answers `method` with `script` from now on (see scripts.ts: a result, an error, a delay, a
   * dropped connection); undefined gives the method back to the emulator.
   */
  script (method: string, script: MethodScript | undefined): void {
    this.bot.script(method, script)
  }

  /** A webhook as if someone had set it before the test (see SandboxBot.presetWebhook). */
  presetWebhook (preset: WebhookPreset): void {
    this.bot.presetWebhook(preset)
  }

  /**
   * For an update a test posts to the bot itself, not through inject*: Telegram knows the chat of
   * every update it sends, so the bot's replies to it are answered rather than "chat not found".
   */
  learnChatsOf (update: object): void {
    for (const payload of Object.values(update) as unknown[]) {
      for (const chat of [chatOf(payload), chatOf(messageOf(payload))]) {
        if (chat !== undefined) this.bot.conversations.rememberChat(chat)
      }
    }
  }
}

function messageOf (payload: unknown): unknown {
  return typeof payload === 'object' && payload !== null && 'message' in payload ? payload.message : undefined
}

// A message, an edited message, a channel post or a chat member update carry `chat` themselves;
// a callback query carries it in its message.
function chatOf (payload: unknown): Chat | undefined {
  if (typeof payload !== 'object' || payload === null || !('chat' in payload)) return undefined
  const chat = payload.chat
  const isChat = typeof chat === 'object' && chat !== null && 'id' in chat && typeof chat.id === 'number' && 'type' in chat
  return isChat ? chat as Chat : undefined
}
