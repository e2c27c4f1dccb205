// Bot API calls on Node's own HTTP client instead of Telegraf's node-fetch client. A sendMessage
// costs the caller 0.56 times the CPU this way (82-97 µs against 134-164 µs in
// bench/api-client.ts), and with the handler budget at 0 that CPU is taken from the acks on the same
// core. (undici was faster still but cost 24 MB of RSS, mostly its WebAssembly HTTP parser.) Only
// the plain JSON calls take this path; anything Telegraf might send as multipart (files, media)
// still goes through Telegraf, which knows how to build it.
//
// What a caller sees is what Telegraf's client gives: the `result` on success, a TelegramError
// (error_code, description, parameters, and `on: { method, payload }`) when Telegram says no or
// answers 5xx, and any other Error when no answer came. No error message carries the token. One
// difference: redirects are not followed (the Bot API does not redirect; a 3xx is reported as an
// answer that is not JSON).
import http, { STATUS_CODES, type IncomingMessage } from 'node:http'
import https from 'node:https'
import { urlToHttpOptions } from 'node:url'
import { TelegramError, type Telegram } from 'telegraf'

/** Telegraf's own limit for one call; long polling (getUpdates) waits up to 50 s of it. */
const CALL_TIMEOUT_MS = 500_000

interface ApiAnswer {
  ok: boolean
  result?: unknown
  error_code: number
  description: string
}

/**
 * Replaces `telegram.callApi` with one that POSTs plain JSON calls to the same URL Telegraf would
 * use, over keep-alive connections: as many as calls in flight, as with Telegraf's agent. Idle
 * connections do not keep the process alive (Node's agent unrefs them). For the bot's own client
 * (bot.telegram), which has no webhook response to answer through, so webhookReply never applies.
 */
export function callApiDirectly (telegram: Telegram, timeoutMs = CALL_TIMEOUT_MS): void {
  const { token, options } = telegram
  if (token === '') return // Telegraf answers these calls itself ("Bot Token is required")
  const viaTelegraf = telegram.callApi.bind(telegram)
  const base = new URL(`./${options.apiMode}${token}${options.testEnv ? '/test' : ''}/`, options.apiRoot)
  const post = jsonPoster(base, timeoutMs)

  const callApi = async (method: string, payload: object | undefined, { signal }: { signal?: AbortSignal } = {}): Promise<unknown> => {
    if (mayNeedMultipart(payload)) return await viaTelegraf(method as never, payload as never, { signal: signal as never })
    const { status, reason, text } = await post(base.pathname + method, JSON.stringify(payload ?? {}, withoutNulls), signal)
    // Telegraf judges a 5xx by its status and reason phrase alone, whatever the body says; so do we.
    if (status >= 500) throw new TelegramError({ error_code: status, description: reason }, { method, payload })
    let answer: ApiAnswer
    try {
      answer = JSON.parse(text) as ApiAnswer
    } catch {
      throw new Error(`Bot API ${method}: HTTP ${status} with a body that is not JSON`)
    }
    if (answer.ok !== true) throw new TelegramError(answer, { method, payload })
    return answer.result
  }
  telegram.callApi = callApi as Telegram['callApi']
}

/** `reason` (the status line's phrase) is read for a 5xx only, `text` (the body) for the rest. */
type Post = (path: string, body: string, signal: AbortSignal | undefined) => Promise<{ status: number, reason: string, text: string }>

/**
 * POSTs a JSON body to a path on `origin` and reads the whole answer; a 5xx's body is not read.
 * Node's errors name the host and port, never the path, so the token in it cannot leak.
 */
function jsonPoster (origin: URL, timeoutMs: number): Post {
  const client = origin.protocol === 'https:' ? https : http
  const agent = new client.Agent({ keepAlive: true })
  // urlToHttpOptions takes the brackets off an IPv6 host ([::1]), which http.request cannot resolve.
  const { protocol, hostname, port } = urlToHttpOptions(origin)
  const target = { protocol, hostname, port, method: 'POST', agent }
  return async (path, body, signal) => await new Promise((resolve, reject) => {
    const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }
    const req = client.request({ ...target, path, headers, ...(signal !== undefined && { signal }) }, (res: IncomingMessage) => {
      const status = res.statusCode ?? 0
      if (status >= 500) {
        res.resume()
        resolve({ status, reason: (res.statusMessage ?? '') || (STATUS_CODES[status] ?? ''), text: '' })
        return
      }
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { text += chunk })
      res.on('end', () => { resolve({ status, reason: '', text }) })
      res.on('error', reject)
    })
    // As node-fetch's timeout in Telegraf, but counted from the last byte that moved.
    req.setTimeout(timeoutMs, () => { req.destroy(new Error(`the Bot API sent nothing for ${timeoutMs} ms`)) })
    req.on('error', reject)
    req.end(body)
  })
}

/**
 * True when Telegraf could send this payload as multipart/form-data: an object value with `source`,
 * `url` or `media` (an InputFile, or an InputMedia holding one), or an array of items with an object
 * `media` (sendMediaGroup). A superset of Telegraf's own test, so nothing multipart is sent as JSON.
 */
export function mayNeedMultipart (payload: object | undefined): boolean {
  if (payload === undefined || payload === null) return false
  for (const [key, value] of Object.entries(payload)) {
    if (key === 'link_preview_options' || typeof value !== 'object' || value === null) continue
    if (Array.isArray(value)) {
      if (value.some((item: unknown) => typeof item === 'object' && item !== null && typeof (item as { media?: unknown }).media === 'object')) return true
    } else if ('source' in value || 'url' in value || 'media' in value) {
      return true
    }
  }
  return false
}

/** Telegraf's JSON replacer: null and undefined fields are left out, not sent as null. */
function withoutNulls (_key: string, value: unknown): unknown {
  return value ?? undefined
}
