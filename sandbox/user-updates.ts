/**
 * Updates as a user's actions produce them on Telegram: a text or a command, a voice message, a
 * press on an inline button. Shapes follow the Bot API objects (typegram types).
 */
import type { CallbackQuery, Chat, Message, MessageEntity, Update, User } from 'telegraf/types'
import type { StoredFile } from './conversations.js'

/** The person at the sandbox keyboard. */
export const SANDBOX_USER: User = {
  id: 100_000_001,
  is_bot: false,
  first_name: 'Sandra',
  last_name: 'Box',
  username: 'sandbox_user',
  language_code: 'en'
}

export function privateChatOf (user: User): Chat.PrivateChat {
  const chat: Chat.PrivateChat = { id: user.id, type: 'private', first_name: user.first_name }
  if (user.last_name !== undefined) chat.last_name = user.last_name
  if (user.username !== undefined) chat.username = user.username
  return chat
}

/** Per-chat queues for messages, per-user queues for callback queries (Client.cpp queue ids). */
export const queueKeyOfChat = (chatId: number): string => `chat:${chatId}`
export const queueKeyOfCallbacks = (userId: number): string => `callback_query:${userId}`

/** Where a user can write: any chat but a channel. */
export type UserChat = Exclude<Chat, Chat.ChannelChat>

export interface MessageHeader {
  message_id: number
  from: User
  chat: UserChat
  date: number
}

/** A new message from a user, as a `message` update carries it. */
export type IncomingMessage<M extends Message> = Update.MessageUpdate<M>['message']

export function textMessage (header: MessageHeader, text: string): IncomingMessage<Message.TextMessage> {
  const message: IncomingMessage<Message.TextMessage> = { ...header, text }
  const command = commandEntity(text)
  if (command !== undefined) message.entities = [command]
  return message
}

// Telegram marks a leading "/command" (with an optional "@bot") as a bot_command entity; Telegraf's
// bot.command() matches on that entity, not on the text.
function commandEntity (text: string): MessageEntity | undefined {
  const match = /^\/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?/.exec(text)
  return match === null ? undefined : { type: 'bot_command', offset: 0, length: match[0].length }
}

export function voiceMessage (
  header: MessageHeader, file: StoredFile, durationSeconds: number
): IncomingMessage<Message.VoiceMessage> {
  return {
    ...header,
    voice: {
      file_id: file.file_id,
      file_unique_id: file.file_unique_id,
      duration: durationSeconds,
      mime_type: 'audio/ogg',
      file_size: file.file_size
    }
  }
}

export function callbackQuery (
  id: string, from: User, message: Message | undefined, data: string
): CallbackQuery.DataQuery {
  // chat_instance identifies the chat the button was pressed in; any stable string will do here.
  const query: CallbackQuery.DataQuery = { id, from, chat_instance: `sandbox-${message?.chat.id ?? from.id}`, data }
  if (message !== undefined) query.message = message
  return query
}
