/**
 * How the sandbox shows a conversation and its plumbing in a terminal.
 */
import type { InlineKeyboardButton, Message } from 'telegraf/types'
import type { SentMessage } from './conversations.js'
import type { DeliveryStats } from './delivery-ledger.js'
import type { Sandbox } from './session.js'

export function describeReply (sent: SentMessage): string {
  const edited = sent.method === 'editMessageText' ? ' (edited)' : ''
  return `bot> ${messageBody(sent.message)}${edited}${buttonsOf(sent.message)}`
}

function messageBody (message: Message): string {
  if ('text' in message) return message.text
  const media = ['voice', 'photo', 'audio', 'document', 'video', 'animation', 'video_note', 'sticker']
    .find((kind) => kind in message) ?? 'message'
  const caption = 'caption' in message && message.caption !== undefined ? ` ${message.caption}` : ''
  return `[${media}]${caption}`
}

function buttonsOf (message: Message): string {
  const keyboard = 'reply_markup' in message ? message.reply_markup?.inline_keyboard : undefined
  if (keyboard === undefined) return ''
  return keyboard.flat().map((button) => `\n     [${button.text}${buttonTarget(button)}]`).join('')
}

function buttonTarget (button: InlineKeyboardButton): string {
  if ('web_app' in button) return ` -> Mini App ${button.web_app.url}`
  if ('url' in button) return ` -> ${button.url}`
  if ('callback_data' in button) return ` (/press ${button.callback_data})`
  return ''
}

export function banner (sandbox: Sandbox, logPath: string | undefined): string {
  const info = sandbox.bot.webhookInfo()
  return [
    'telegram-ingress sandbox: the real ingress in webhook mode against a local Telegram Bot API emulator.',
    'No token, no network: everything listens on 127.0.0.1.',
    `  Bot API emulator  ${sandbox.emulator.url}  (like telegram-bot-api --local; bot @${sandbox.bot.botUser.username})`,
    `  ingress           ${sandbox.service.url}  (webhook mode)`,
    `  webhook           ${info.url ?? ''}  (registered by the ingress at start-up, max_connections ${info.max_connections ?? '-'})`,
    ...(logPath === undefined ? [] : [`  ingress log       ${logPath}`])
  ].join('\n')
}

export function deliverySummary (stats: DeliveryStats, pending: number): string {
  return `Webhook deliveries: ${stats.attempts} POSTs, ${stats.successes} acknowledged, ${stats.failures} failed, ` +
    `${stats.duplicates} redelivered; ${pending} pending.`
}

export const INTERACTIVE_HELP = [
  'Type a message and press Enter; it reaches the bot as a Telegram update through the webhook.',
  'Bot commands such as /start go to the bot, which decides what to answer (today: /start and voice',
  'messages; other updates are delivered and acknowledged without a reply). Sandbox commands:',
  '  /voice [seconds]  send a voice message',
  '  /press <data>     press an inline button (callback query) on the bot\'s last message',
  '  /stats            delivery counters and getWebhookInfo',
  '  /quit             stop (or Ctrl-C, Ctrl-D)'
].join('\n')
