// POST /telegram/webhook: the door Telegram knocks on, and the whole path of an update from the
// socket to the ingress and back to a status code.
//
// It is served before Fastify's router (app.ts puts it first in the server's request listener),
// on Node's own request and response. Fastify's per-request pipeline (Request and Reply objects,
// hooks, the content-type parser, reply serialisation) measured x1.26 the CPU of the same route in
// plain Node (bench/README.md), more than everything this service does per update; this route is
// nothing but that hot path, so it does the few things Fastify did for it itself. Every other route,
// the 404s, the lifecycle and close() stay Fastify's.
//
// Checks in the order that costs an attacker most and us least: method, secret (before the body is
// read), content type, size, JSON, shape; then the ingress. Every refusal names what is wrong.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import proxyAddr from '@fastify/proxy-addr'
import sjson from 'secure-json-parse'
import type { Update } from 'telegraf/types'
import type { AcceptOutcome, Ingress } from '../ingress/ingress.js'
import type { Log } from '../logger.js'
import { BODY_LIMIT_BYTES, errorBody, refusal } from './http-errors.js'
import { secretMatcher } from './secure-compare.js'

export const SECRET_HEADER = 'x-telegram-bot-api-secret-token'

/** Whose X-Forwarded-For is believed (Caddy, on loopback or a private network); Fastify's trustProxy too. */
export const TRUSTED_PROXIES = ['loopback', 'uniquelocal']

export interface WebhookOptions {
  /** The path Telegram posts to, as this service sees it (Caddy strips /api): /telegram/webhook. */
  path: string
  ingress: Ingress
  secret: string
  log: Log
}

/** Takes the request if it is for the webhook's path (true), or leaves it to the next listener (false). */
export type WebhookListener = (req: IncomingMessage, res: ServerResponse) => boolean

export function isUpdate (body: unknown): body is Update {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return false
  const id = (body as { update_id?: unknown }).update_id
  return typeof id === 'number' && Number.isSafeInteger(id) && id >= 0
}

/** application/json with or without parameters (`; charset=utf-8`), in any letter case. */
function isJson (contentType: string): boolean {
  if (contentType === 'application/json') return true
  const semicolon = contentType.indexOf(';')
  return (semicolon === -1 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase() === 'application/json'
}

function pathOf (url: string): string {
  const query = url.indexOf('?')
  return query === -1 ? url : url.slice(0, query)
}

/**
 * The path as Fastify's router would have seen it, for the rare URL that is not plain: the
 * absolute form (`http://host/path`, which servers must accept), a fragment, percent-encoding.
 */
function normalisedPath (url: string): string | undefined {
  let rest = url
  if (!rest.startsWith('/')) {
    const origin = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(rest)
    if (origin === null) return undefined
    rest = rest.slice(origin[0].length)
  }
  const end = rest.search(/[?#]/)
  if (end !== -1) rest = rest.slice(0, end)
  try {
    return decodeURI(rest)
  } catch {
    return undefined
  }
}

function isPath (url: string, path: string): boolean {
  const plain = pathOf(url)
  if (plain === path) return true
  return (plain.includes('%') || plain.includes('#') || !plain.startsWith('/')) && normalisedPath(url) === path
}

/**
 * Connections told `Connection: close`: a request pipelined behind that answer can never be answered
 * (Node ends the socket after it), so it must not be taken either.
 */
const closing = new WeakSet<Socket>()

type Headers = Record<string, string>
const CLOSE: Headers = { connection: 'close' }
const KEEP: Headers = {}
const ACK: Headers = { 'content-length': '0' }
const ACK_AND_CLOSE: Headers = { ...ACK, ...CLOSE }

/** Every answer of the route goes out here, so a closing connection is always remembered. */
function respond (res: ServerResponse, statusCode: number, headers: Headers, body?: string): void {
  if (headers.connection === 'close') closing.add(res.req.socket)
  res.writeHead(statusCode, headers)
  res.end(body)
}

function sendError (res: ServerResponse, statusCode: number, message: string, headers: Headers): void {
  const body = errorBody(statusCode, message)
  respond(res, statusCode, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(body)) }, body)
}

export function webhookListener ({ path, ingress, secret, log }: WebhookOptions): WebhookListener {
  const secretMatches = secretMatcher(secret)
  const trusted = proxyAddr.compile(TRUSTED_PROXIES)

  // Shutting down: no answer may leave its connection open for keep-alive, or closing the server
  // waits for the client to hang up (close() only drops the connections idle when it began).
  const closeIfClosing = (headers: Headers): Headers => ingress.closed ? { ...headers, ...CLOSE } : headers

  /** A client error: answered, and logged as Fastify's error handler logs the other routes' ones. */
  const reject = (req: IncomingMessage, res: ServerResponse, statusCode: number, message: string, headers = KEEP): void => {
    log.info({ method: req.method, url: req.url, status: statusCode, reason: message }, 'request rejected')
    sendError(res, statusCode, message, closeIfClosing(headers))
  }

  const answer = (res: ServerResponse, update: Update, outcome: AcceptOutcome): void => {
    if (outcome === 'closed') {
      // Not a 2xx, so Telegram keeps the update and sends it again (to us after a restart).
      sendError(res, 503, 'Shutting down: Telegram will deliver this update again', closeIfClosing({ 'retry-after': '5' }))
      return
    }
    if (outcome === 'duplicate') log.info({ update_id: update.update_id }, 'redelivered update acknowledged, not handled again')
    respond(res, 200, ingress.closed ? ACK_AND_CLOSE : ACK)
  }

  /** The body is in: JSON, shape, then the ingress. */
  const take = (req: IncomingMessage, res: ServerResponse, text: string): void => {
    if (text.length === 0) {
      reject(req, res, 400, refusal.emptyJson)
      return
    }
    let body: unknown
    try {
      // Fastify's own parser and settings: a __proto__ or constructor.prototype key is refused.
      body = sjson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' })
    } catch (err) {
      reject(req, res, 400, refusal.invalidJson((err as Error).message))
      return
    }
    if (!isUpdate(body)) {
      reject(req, res, 400, 'Body must be a Telegram Update: a JSON object with a non-negative integer update_id')
      return
    }
    const update = body
    // Not the update's fault (a dedupe store that fails, say): 500, so Telegram tries again later.
    const failed = (err: unknown): void => {
      log.error({ err, update_id: update.update_id }, 'webhook request failed')
      if (!res.headersSent) sendError(res, 500, 'Internal Server Error', closeIfClosing(KEEP))
    }
    let outcome: ReturnType<Ingress['accept']>
    try {
      outcome = ingress.accept(update)
    } catch (err) {
      failed(err)
      return
    }
    // With budget 0 the outcome is known at once, and the 2xx goes out in this turn.
    if (typeof outcome === 'string') answer(res, update, outcome)
    else outcome.then((o) => { answer(res, update, o) }, failed)
  }

  return (req, res) => {
    if (!isPath(req.url ?? '', path)) return false
    if (closing.has(req.socket)) {
      req.resume()
      return true
    }
    if (req.method !== 'POST') {
      // The guide's first check of a deployment: a GET on the webhook gives 405, not 404.
      sendError(res, 405, refusal.method(req.method, req.url, 'POST'), { allow: 'POST', ...CLOSE })
      return true
    }
    const header = req.headers[SECRET_HEADER]
    if (!secretMatches(typeof header === 'string' ? header : undefined)) {
      log.warn({ ip: proxyAddr(req, trusted), has_header: header !== undefined }, 'webhook call with a missing or wrong secret token')
      // The body is not read: close the connection rather than read it to keep the socket.
      sendError(res, 401, header === undefined ? 'Missing X-Telegram-Bot-Api-Secret-Token header' : 'Wrong X-Telegram-Bot-Api-Secret-Token header', CLOSE)
      return true
    }
    const type = req.headers['content-type']
    if (type === undefined || !isJson(type)) {
      reject(req, res, 415, refusal.mediaType(type), CLOSE)
      return true
    }
    const declared = req.headers['content-length']
    if (declared !== undefined && Number(declared) > BODY_LIMIT_BYTES) {
      reject(req, res, 413, refusal.tooLarge, CLOSE)
      return true
    }

    const chunks: Buffer[] = []
    let received = 0
    let refused = false
    req.on('data', (chunk: Buffer) => {
      if (refused) return
      received += chunk.length
      if (received > BODY_LIMIT_BYTES) {
        // A chunked body (no Content-Length) that goes on too long.
        refused = true
        chunks.length = 0
        reject(req, res, 413, refusal.tooLarge, CLOSE)
        return
      }
      chunks.push(chunk)
    })
    req.on('end', () => {
      if (refused) return
      take(req, res, chunks.length === 1 ? (chunks[0] as Buffer).toString('utf8') : Buffer.concat(chunks, received).toString('utf8'))
    })
    // The client went away mid-body: there is nobody to answer, and nothing was taken.
    req.on('error', (err) => { log.debug({ err: err.message }, 'webhook request aborted before its body was read') })
    return true
  }
}
