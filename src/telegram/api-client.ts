// Bot API calls through an undici connection pool instead of Telegraf's node-fetch client. A
// sendMessage cost about 230 µs of CPU through Telegraf's client and about 60 µs through the pool
// (bench/README.md), and with the handler budget at 0 that CPU is taken from the acks on the same
// core. Only the plain JSON calls take this path; anything Telegraf might send as multipart (files,
// media) still goes through Telegraf, which knows how to build it.
//
// What a caller sees is what Telegraf's client gives: the `result` on success, a TelegramError
// (error_code, description, parameters, and `on: { method, payload }`) when Telegram says no or
// answers 5xx, and any other Error when no answer came. No error message carries the token.
import { STATUS_CODES } from 'node:http'
import { TelegramError, type Telegram } from 'telegraf'
import { Pool } from 'undici'

/** Telegraf's own limit for one call; long polling (getUpdates) waits up to 50 s of it. */
const CALL_TIMEOUT_MS = 500_000
const JSON_HEADERS = { 'content-type': 'application/json' }

interface ApiAnswer {
  ok: boolean
  result?: unknown
  error_code: number
  description: string
}

/**
 * Replaces `telegram.callApi` with one that sends plain JSON calls through an undici Pool to the
 * same URL Telegraf would use. The pool opens as many keep-alive connections as calls in flight,
 * as Telegraf's agent does; idle ones do not keep the process alive.
 */
export function callApiThroughPool (telegram: Telegram): void {
  const { token, options } = telegram
  if (token === '') return // Telegraf answers these calls itself ("Bot Token is required")
  const viaTelegraf = telegram.callApi.bind(telegram)
  const base = new URL(`./${options.apiMode}${token}${options.testEnv ? '/test' : ''}/`, options.apiRoot)
  const pool = new Pool(base.origin, { connections: null, headersTimeout: CALL_TIMEOUT_MS, bodyTimeout: CALL_TIMEOUT_MS })

  const callApi = async (method: string, payload: object | undefined, { signal }: { signal?: AbortSignal } = {}): Promise<unknown> => {
    if (options.webhookReply || mayNeedMultipart(payload)) return await viaTelegraf(method as never, payload as never, { signal: signal as never })
    // undici's errors name neither the URL nor the path, so the token cannot leak through them.
    const res = await pool.request({ path: base.pathname + method, method: 'POST', headers: JSON_HEADERS, body: JSON.stringify(payload ?? {}, withoutNulls), signal })
    const status = res.statusCode
    // Telegraf judges a 5xx by its status alone, whatever the body says; so do we.
    if (status >= 500) {
      await res.body.dump()
      throw new TelegramError({ error_code: status, description: STATUS_CODES[status] ?? 'Server Error' }, { method, payload })
    }
    const text = await res.body.text()
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
