/**
 * The Telegram-side world one bot lives in: the chats it has seen, message ids per chat, the
 * files it can fetch, the callback queries it may answer, and everything it sent (the outbox the
 * tests and the sandbox UI read).
 */
import { EventEmitter } from 'node:events'
import type { Chat, Message, User } from 'telegraf/types'
import { badRequest } from './api-error.js'
import type { SandboxClock } from './clock.js'
import { UPDATE_LIFETIME_SECONDS } from './update-queue.js'

export interface SentMessage {
  /** The Bot API method as the bot called it: "sendMessage", "editMessageText"... */
  method: string
  chatId: number
  message: Message
  /** The call's arguments as text, as the server received them. */
  args: Record<string, string>
}

export interface StoredFile {
  file_id: string
  file_unique_id: string
  file_size: number
  file_path: string
}

interface CallbackQueryState {
  expiresAt: number
  answered: boolean
}

export class Conversations {
  private readonly chats = new Map<number, Chat>()
  private readonly lastMessageId = new Map<number, number>()
  private readonly outbox: SentMessage[] = []
  private readonly deleted = new Set<string>()
  private readonly files = new Map<string, StoredFile>()
  private readonly callbackQueries = new Map<string, CallbackQueryState>()
  private readonly events = new EventEmitter()
  private fileCounter = 0
  private callbackCounter = 0

  constructor (readonly botUser: User, private readonly clock: SandboxClock) {}

  rememberChat (chat: Chat): void {
    this.chats.set(chat.id, chat)
  }

  /**
   * The chat a method names in chat_id. Like Telegram, a bot can only reach chats it has seen:
   * an unknown one is "chat not found".
   */
  chatFor (chatIdArg: string): Chat {
    if (chatIdArg === '') throw badRequest('chat_id is empty')
    const chat = this.findChat(chatIdArg)
    if (chat === undefined) throw badRequest('chat not found')
    return chat
  }

  private findChat (chatIdArg: string): Chat | undefined {
    if (chatIdArg.startsWith('@')) {
      const username = chatIdArg.slice(1).toLowerCase()
      return [...this.chats.values()].find((chat) => 'username' in chat && chat.username?.toLowerCase() === username)
    }
    return /^-?\d+$/.test(chatIdArg) ? this.chats.get(Number(chatIdArg)) : undefined
  }

  /** Message ids grow per chat, shared by the user's and the bot's messages. */
  nextMessageId (chatId: number): number {
    const next = (this.lastMessageId.get(chatId) ?? 0) + 1
    this.lastMessageId.set(chatId, next)
    return next
  }

  recordSent (method: string, message: Message, args: Record<string, string>): void {
    const sent: SentMessage = { method, chatId: message.chat.id, message, args }
    this.outbox.push(sent)
    this.events.emit('sent', sent)
  }

  sent (chatId?: number): SentMessage[] {
    return this.outbox.filter((sent) => chatId === undefined || sent.chatId === chatId)
  }

  /** The latest version of a message the bot sent (edits included), unless it was deleted. */
  botMessage (chatId: number, messageId: number): Message | undefined {
    if (this.deleted.has(`${chatId}:${messageId}`)) return undefined
    return this.outbox.findLast((sent) => sent.chatId === chatId && sent.message.message_id === messageId)?.message
  }

  deleteBotMessage (chatId: number, messageId: number): boolean {
    if (this.botMessage(chatId, messageId) === undefined) return false
    this.deleted.add(`${chatId}:${messageId}`)
    return true
  }

  onSent (listener: (sent: SentMessage) => void): () => void {
    this.events.on('sent', listener)
    return () => { this.events.off('sent', listener) }
  }

  storeFile (kind: string, size: number, extension: string): StoredFile {
    const n = ++this.fileCounter
    const file: StoredFile = {
      file_id: `SANDBOX-${kind}-${n}`,
      file_unique_id: `sandbox${n}`,
      file_size: size,
      file_path: `${kind}/file_${n}.${extension}`
    }
    this.files.set(file.file_id, file)
    return file
  }

  file (fileId: string): StoredFile | undefined {
    return this.files.get(fileId)
  }

  fileByPath (path: string): StoredFile | undefined {
    return [...this.files.values()].find((file) => file.file_path === path)
  }

  /** A callback query can be answered once, while its update lives. */
  newCallbackQueryId (): string {
    const id = `${this.botUser.id}${String(++this.callbackCounter).padStart(6, '0')}`
    this.callbackQueries.set(id, {
      expiresAt: this.clock.now() + this.clock.ms(UPDATE_LIFETIME_SECONDS.callbackQuery),
      answered: false
    })
    return id
  }

  answerCallbackQuery (id: string): void {
    const query = this.callbackQueries.get(id)
    if (query === undefined || query.answered || query.expiresAt < this.clock.now()) {
      throw badRequest('query is too old and response timeout expired or query ID is invalid')
    }
    query.answered = true
  }
}
