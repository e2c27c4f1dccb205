/**
 * One webhook POST, the way Telegram makes it (WebhookActor::send_update): JSON body, keep-alive,
 * the secret in X-Telegram-Bot-Api-Secret-Token, no User-Agent; no answer in time closes the
 * connection and counts as a failure.
 */
import http from 'node:http'
import https from 'node:https'

export type PostOutcome =
  | { ok: true, status: number, contentType: string | undefined, body: Buffer }
  | { ok: false, status?: number, message: string, retryAfterSeconds: number, reachedWebhook: boolean }

export interface PostRequest {
  url: URL
  secretToken: string
  body: string
  agent: http.Agent
  /** Telegram waits 60 s (scaled by the emulator's clock). */
  timeoutMs: number
}

export interface WebhookPost {
  readonly done: Promise<PostOutcome>
  /** Drops the request (the webhook was replaced or the emulator is closing). */
  abort: () => void
}

// A webhook may answer with a method to execute; Telegram reads at most 1 MiB of it.
const MAX_REPLY_BYTES = 1024 * 1024

class ReadTimeoutError extends Error {}
class AbortedError extends Error {}

export function postUpdate (request: PostRequest): WebhookPost {
  const transport = request.url.protocol === 'https:' ? https : http
  const headers: http.OutgoingHttpHeaders = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(request.body),
    connection: 'keep-alive'
  }
  if (request.secretToken !== '') headers['x-telegram-bot-api-secret-token'] = request.secretToken
  const req = transport.request(request.url, { method: 'POST', headers, agent: request.agent })
  const timer = setTimeout(() => { req.destroy(new ReadTimeoutError()) }, request.timeoutMs)
  const done = new Promise<PostOutcome>((resolve) => {
    req.on('response', (res) => {
      readReply(res).then(
        (body) => { resolve(answerOutcome(res, body)) },
        (error: unknown) => { resolve(connectionFailure(error)) }
      )
    })
    req.on('error', (error) => { resolve(connectionFailure(error)) })
    req.end(request.body)
  }).finally(() => { clearTimeout(timer) })
  return { done, abort: () => { req.destroy(new AbortedError()) } }
}

async function readReply (res: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of res) {
    const buffer = chunk as Buffer
    size += buffer.length
    if (size <= MAX_REPLY_BYTES) chunks.push(buffer)
  }
  return size <= MAX_REPLY_BYTES ? Buffer.concat(chunks) : Buffer.alloc(0)
}

function answerOutcome (res: http.IncomingMessage, body: Buffer): PostOutcome {
  const status = res.statusCode ?? 0
  // Any 2xx is a success; anything else, redirects included, is a failure (TELEGRAM.md, Delivery).
  if (status >= 200 && status <= 299) return { ok: true, status, contentType: res.headers['content-type'], body }
  return {
    ok: false,
    status,
    message: `Wrong response from the webhook: ${status} ${res.statusMessage ?? ''}`.trimEnd(),
    retryAfterSeconds: parseRetryAfter(res.headers['retry-after']),
    reachedWebhook: true
  }
}

function parseRetryAfter (header: string | undefined): number {
  const seconds = Number.parseInt(header ?? '', 10)
  return Number.isFinite(seconds) ? seconds : 0
}

const UNREACHABLE_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH'])

/** A failure without a usable answer, worded as getWebhookInfo's last_error_message shows it. */
function connectionFailure (error: unknown): PostOutcome {
  const fail = (message: string, reachedWebhook: boolean): PostOutcome =>
    ({ ok: false, message, retryAfterSeconds: 0, reachedWebhook })
  if (error instanceof ReadTimeoutError) return fail('Read timeout expired', true)
  if (error instanceof AbortedError) return fail('Webhook connection closed', true)
  const code = (error as NodeJS.ErrnoException).code ?? ''
  if (code === 'ECONNREFUSED') return fail('Connection refused', false)
  if (UNREACHABLE_CODES.has(code)) return fail("Can't connect to the webhook", false)
  // The server took the request and hung up without an answer.
  return fail('Webhook connection closed', true)
}
