/**
 * The Bot API methods the emulator answers, with Telegram's argument rules and error texts, and
 * the execution of a method named in a webhook's 2xx answer.
 */
import type { BotCommand, Chat, File, Message } from 'telegraf/types'
import { badRequest, methodNotFound, BotApiError } from './api-error.js'
import type { MethodAnswer, SandboxBot } from './bot.js'
import type { StoredFile } from './conversations.js'
import { parseArgs, type RequestArgs } from './request-args.js'
import { scriptedAnswer } from './scripts.js'

export type CallOrigin = 'http' | 'webhook-answer'

export interface ApiCallRecord {
  /** As the client spelled it. */
  method: string
  /** The arguments as the server reads them: every value as text. */
  args: Record<string, string>
  /** The arguments as the client sent them: a JSON body's values keep their types. */
  params: Record<string, unknown>
  origin: CallOrigin
  at: number
  /** Telegram's description of the failure, when the call failed. */
  error?: string
}

type MethodHandler = (bot: SandboxBot, args: RequestArgs, method: string) => MethodAnswer | Promise<MethodAnswer>

const answer = (result: unknown): MethodAnswer => ({ result })

/** Runs one Bot API call for `bot` (or the test's script for it) and logs it for the control API. */
export async function callMethod (
  bot: SandboxBot, method: string, args: RequestArgs, origin: CallOrigin
): Promise<MethodAnswer> {
  const record: ApiCallRecord = { method, args: args.toRecord(), params: args.toParams(), origin, at: Date.now() }
  bot.recordCall(record)
  try {
    const script = bot.scriptFor(method)
    const scripted = script === undefined ? undefined : await script(record)
    if (scripted !== undefined) return scriptedAnswer(scripted)
    const handler = METHODS.get(method.toLowerCase())
    if (handler === undefined) throw methodNotFound()
    return await handler(bot, args, method)
  } catch (error) {
    if (error instanceof BotApiError) record.error = error.description
    throw error
  }
}

// Telegram ignores these when a webhook answer names them (WebhookActor::handle).
const NOT_FROM_WEBHOOK_ANSWER = new Set(['setwebhook', 'deletewebhook', 'close', 'logout'])

/**
 * A 2xx webhook answer may carry {"method": ...}: Telegram executes it and discards the result
 * ("It's not possible to know that such a request was successful or get its result").
 */
export function executeWebhookAnswer (bot: SandboxBot, contentType: string | undefined, body: Buffer): void {
  let args: RequestArgs
  try {
    args = parseArgs(contentType, body)
  } catch {
    return
  }
  const method = args.string('method')
  const name = method.toLowerCase()
  if (name === '' || name.startsWith('get') || NOT_FROM_WEBHOOK_ANSWER.has(name)) return
  callMethod(bot, method, args, 'webhook-answer').catch(() => { /* the result is discarded */ })
}

function sendMessage (bot: SandboxBot, args: RequestArgs, method: string): MethodAnswer {
  const chat = bot.conversations.chatFor(args.string('chat_id'))
  const text = args.string('text')
  if (text === '') throw badRequest('message text is empty')
  return answer(recordBotMessage(bot, method, chat, { text }, args))
}

interface MediaKind {
  field: string
  extension: string
}

const MEDIA_METHODS: Record<string, MediaKind> = {
  sendphoto: { field: 'photo', extension: 'jpg' },
  sendaudio: { field: 'audio', extension: 'mp3' },
  senddocument: { field: 'document', extension: 'bin' },
  sendvideo: { field: 'video', extension: 'mp4' },
  sendanimation: { field: 'animation', extension: 'mp4' },
  sendvoice: { field: 'voice', extension: 'oga' },
  sendvideonote: { field: 'video_note', extension: 'mp4' },
  sendsticker: { field: 'sticker', extension: 'webp' }
}

function sendMedia (bot: SandboxBot, args: RequestArgs, method: string): MethodAnswer {
  const kind = MEDIA_METHODS[method.toLowerCase()]
  if (kind === undefined) throw methodNotFound()
  const chat = bot.conversations.chatFor(args.string('chat_id'))
  const file = mediaFile(bot, args, kind)
  const content: Record<string, unknown> = { [kind.field]: mediaObject(kind.field, file, args) }
  if (args.has('caption')) content.caption = args.string('caption')
  return answer(recordBotMessage(bot, method, chat, content, args))
}

/** An uploaded part, a file_id the bot has seen, or an HTTP URL (which Telegram would fetch). */
function mediaFile (bot: SandboxBot, args: RequestArgs, kind: MediaKind): StoredFile {
  const upload = args.file(kind.field)
  if (upload !== undefined) return bot.conversations.storeFile(kind.field, upload.size, kind.extension)
  const reference = args.string(kind.field)
  if (reference === '') throw badRequest(`there is no ${kind.field} in the request`)
  const known = bot.conversations.file(reference)
  if (known !== undefined) return known
  if (/^https?:\/\//i.test(reference)) return bot.conversations.storeFile(kind.field, 0, kind.extension)
  throw badRequest('wrong file identifier/HTTP URL specified')
}

function mediaObject (field: string, file: StoredFile, args: RequestArgs): unknown {
  const base = { file_id: file.file_id, file_unique_id: file.file_unique_id, file_size: file.file_size }
  if (field === 'photo') return [{ ...base, width: 800, height: 600 }]
  if (field === 'voice') return { ...base, duration: args.int('duration', 0, 0), mime_type: 'audio/ogg' }
  return { ...base, duration: args.int('duration', 0, 0) }
}

function recordBotMessage (
  bot: SandboxBot, method: string, chat: Chat, content: Record<string, unknown>, args: RequestArgs
): Message {
  const message = {
    message_id: bot.conversations.nextMessageId(chat.id),
    from: { id: bot.user.id, is_bot: true, first_name: bot.user.first_name, username: bot.user.username },
    chat,
    date: Math.floor(Date.now() / 1000),
    ...content,
    ...inlineKeyboardOf(args)
  } as Message
  bot.conversations.recordSent(method, message, args.toRecord())
  return message
}

// A message keeps only an inline keyboard; reply keyboards are not part of the Message object.
function inlineKeyboardOf (args: RequestArgs): { reply_markup?: unknown } {
  const markup = args.json('reply_markup')
  const isInline = typeof markup === 'object' && markup !== null && 'inline_keyboard' in markup
  return isInline ? { reply_markup: markup } : {}
}

const CHAT_ACTIONS = new Set([
  'typing', 'upload_photo', 'record_video', 'upload_video', 'record_voice', 'upload_voice',
  'upload_document', 'choose_sticker', 'find_location', 'record_video_note', 'upload_video_note'
])

function sendChatAction (bot: SandboxBot, args: RequestArgs): MethodAnswer {
  bot.conversations.chatFor(args.string('chat_id'))
  if (!CHAT_ACTIONS.has(args.string('action'))) throw badRequest('wrong parameter action in request')
  return answer(true)
}

function editMessageText (bot: SandboxBot, args: RequestArgs, method: string): MethodAnswer {
  const chat = bot.conversations.chatFor(args.string('chat_id'))
  const previous = bot.conversations.botMessage(chat.id, args.int('message_id', 0))
  if (previous === undefined) throw badRequest('message to edit not found')
  const text = args.string('text')
  if (text === '') throw badRequest('message text is empty')
  const markup = inlineKeyboardOf(args)
  if ('text' in previous && previous.text === text && sameMarkup(previous, markup)) {
    throw badRequest('message is not modified: specified new message content and reply markup are exactly ' +
      'the same as a current content and reply markup of the message')
  }
  const edited = { ...previous, text, edit_date: Math.floor(Date.now() / 1000), ...markup } as Message
  if (markup.reply_markup === undefined) delete (edited as { reply_markup?: unknown }).reply_markup
  bot.conversations.recordSent(method, edited, args.toRecord())
  return answer(edited)
}

function sameMarkup (message: Message, markup: { reply_markup?: unknown }): boolean {
  const current = 'reply_markup' in message ? message.reply_markup : undefined
  return JSON.stringify(current) === JSON.stringify(markup.reply_markup)
}

function deleteMessage (bot: SandboxBot, args: RequestArgs): MethodAnswer {
  const chat = bot.conversations.chatFor(args.string('chat_id'))
  if (!bot.conversations.deleteBotMessage(chat.id, args.int('message_id', 0))) {
    throw badRequest('message to delete not found')
  }
  return answer(true)
}

function getFile (bot: SandboxBot, args: RequestArgs): MethodAnswer {
  const file = bot.conversations.file(args.string('file_id'))
  if (file === undefined) throw badRequest('invalid file_id')
  const result: File = { ...file }
  return answer(result)
}

function setMyCommands (bot: SandboxBot, args: RequestArgs): MethodAnswer {
  const commands = args.json('commands')
  if (!Array.isArray(commands)) throw badRequest("can't parse commands JSON object")
  bot.commands = commands as BotCommand[]
  return answer(true)
}

const METHOD_LIST: Array<[string, MethodHandler]> = [
  ['getMe', (bot) => answer(bot.user)],
  ['logOut', () => answer(true)],
  ['close', () => answer(true)],
  ['getUpdates', async (bot, args) => answer(await bot.getUpdates(args))],
  ['setWebhook', (bot, args) => bot.setWebhook('setwebhook', args)],
  ['deleteWebhook', (bot, args) => bot.setWebhook('deletewebhook', args)],
  ['getWebhookInfo', (bot) => answer(bot.webhookInfo())],
  ['sendMessage', sendMessage],
  ...Object.keys(MEDIA_METHODS).map((name): [string, MethodHandler] => [name, sendMedia]),
  ['sendChatAction', sendChatAction],
  ['editMessageText', editMessageText],
  ['deleteMessage', deleteMessage],
  ['answerCallbackQuery', (bot, args) => {
    bot.conversations.answerCallbackQuery(args.string('callback_query_id'))
    return answer(true)
  }],
  ['answerInlineQuery', () => answer(true)],
  ['getFile', getFile],
  ['getChat', (bot, args) => answer(bot.conversations.chatFor(args.string('chat_id')))],
  ['setMyCommands', setMyCommands],
  ['getMyCommands', (bot) => answer(bot.commands)],
  ['deleteMyCommands', (bot) => {
    bot.commands = []
    return answer(true)
  }],
  ['setChatMenuButton', () => answer(true)],
  ['getChatMenuButton', () => answer({ type: 'default' })]
]

const METHODS = new Map(METHOD_LIST.map(([name, handler]) => [name.toLowerCase(), handler]))
