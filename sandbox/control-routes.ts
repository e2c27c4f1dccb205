/**
 * The control API over HTTP, for the sandbox UI and for processes other than the emulator's:
 *   POST /_sandbox/bot<token>/inject       {"kind":"text","text":"hi"} | {"kind":"command","command":"start"}
 *                                          | {"kind":"voice","duration_seconds":3}
 *                                          | {"kind":"callback_query","data":"yes"} | {"kind":"update","update":{...}}
 *                                          each optionally with "from" (a User) and "chat" (a Chat)
 *   GET  /_sandbox/bot<token>/sent?chat_id=&since=
 *   GET  /_sandbox/bot<token>/wait?chat_id=&since=&count=&timeout_ms=
 *   GET  /_sandbox/bot<token>/stats        delivery stats and getWebhookInfo
 *   GET  /_sandbox/bot<token>/deliveries   GET /_sandbox/bot<token>/calls?method=
 * Answers use the Bot API's envelope: {"ok":true,"result":...} or {"ok":false,...}.
 */
import type { User } from 'telegraf/types'
import { BotApiError, badRequest, notFound } from './api-error.js'
import type { MethodAnswer } from './bot.js'
import type { BotControl, InjectAs, Injected } from './control.js'
import type { UpdatePayload } from './update-queue.js'
import type { UserChat } from './user-updates.js'

export async function handleControlRequest (
  control: BotControl, httpMethod: string, action: string, query: URLSearchParams, body: Buffer
): Promise<MethodAnswer> {
  const optionalInt = (name: string): number | undefined => {
    const text = query.get(name)
    return text === null || text === '' ? undefined : Number(text)
  }
  if (httpMethod === 'POST' && action === 'inject') return { result: inject(control, readJsonObject(body)) ?? null }
  if (httpMethod !== 'GET') throw notFound()
  const chatId = optionalInt('chat_id')
  switch (action) {
    case 'sent': return { result: control.sent(chatId).slice(optionalInt('since') ?? 0) }
    case 'wait': return { result: await waitForSent(control, { chatId, since: optionalInt('since'), count: optionalInt('count'), timeoutMs: optionalInt('timeout_ms') }) }
    case 'stats': return { result: { delivery: control.deliveryStats(), webhook_info: control.webhookInfo() } }
    case 'deliveries': return { result: control.deliveries() }
    case 'calls': return { result: control.calls(query.get('method') ?? undefined) }
    default: throw notFound()
  }
}

async function waitForSent (control: BotControl, wait: Parameters<BotControl['waitForSent']>[0]): Promise<unknown> {
  try {
    return await control.waitForSent(wait)
  } catch (error) {
    throw new BotApiError(408, `Request Timeout: ${error instanceof Error ? error.message : String(error)}`)
  }
}

type JsonObject = Record<string, unknown>

function readJsonObject (body: Buffer): JsonObject {
  let value: unknown
  try {
    value = JSON.parse(body.toString('utf8'))
  } catch {
    throw badRequest("can't parse JSON object")
  }
  if (!isObject(value)) throw badRequest('JSON object expected')
  return value
}

function isObject (value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function inject (control: BotControl, request: JsonObject): Injected {
  const as = injectAs(request)
  switch (request.kind) {
    case 'text': return control.injectText(requiredString(request, 'text'), as)
    case 'command': return control.injectCommand(requiredString(request, 'command'), optionalString(request, 'args'), as)
    case 'voice': return control.injectVoice({ ...as, durationSeconds: optionalNumber(request, 'duration_seconds') })
    case 'callback_query': return control.injectCallbackQuery(requiredString(request, 'data'), {
      from: as.from, chatId: as.chat?.id, messageId: optionalNumber(request, 'message_id')
    })
    case 'update': {
      const update = request.update
      if (!isObject(update)) throw badRequest('update must be an object')
      return control.injectUpdate(update as UpdatePayload)
    }
    default: throw badRequest('kind must be one of text, command, voice, callback_query, update')
  }
}

// "from" and "chat" are taken as given: the caller plays Telegram here and owns the shapes.
function injectAs (request: JsonObject): InjectAs {
  const as: InjectAs = {}
  if (isObject(request.from) && typeof request.from.id === 'number') as.from = request.from as unknown as User
  if (isObject(request.chat) && typeof request.chat.id === 'number') as.chat = request.chat as unknown as UserChat
  return as
}

function requiredString (request: JsonObject, name: string): string {
  const value = request[name]
  if (typeof value !== 'string' || value === '') throw badRequest(`${name} is required`)
  return value
}

function optionalString (request: JsonObject, name: string): string {
  const value = request[name]
  return typeof value === 'string' ? value : ''
}

function optionalNumber (request: JsonObject, name: string): number | undefined {
  const value = request[name]
  return typeof value === 'number' ? value : undefined
}
