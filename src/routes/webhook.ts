// POST /telegram/webhook: the door Telegram knocks on, and the whole path of an update from the
// request to the ingress and back to a status code. A Fastify route: the secret is checked in its
// onRequest hook (before any body is read), Fastify's JSON parser and bodyLimit give the 415, 413
// and 400s, and the handler hands the update to the ingress. Every refusal names what is wrong.
import type { Socket } from 'node:net'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Update } from 'telegraf/types'
import type { AcceptOutcome, UpdateIngress } from '../ingress/ingress.js'
import { RepeatedWarning } from '../logger.js'
import { methodNotAllowed, sendError } from './http-errors.js'
import { secretMatcher } from './secure-compare.js'

export const SECRET_HEADER = 'x-telegram-bot-api-secret-token'

/** Whose X-Forwarded-For is believed (Caddy, on loopback or a private network): Fastify's trustProxy. */
export const TRUSTED_PROXIES = ['loopback', 'uniquelocal']

export interface WebhookOptions {
  ingress: UpdateIngress
  secret: string
  /** How often a wrong-secret warning is written, at most (tests shorten it). */
  warningIntervalMs?: number
}

// Telegram's retry schedule goes 2, 4, 8 ... s; a restart takes a few, so ask for the next try in 5.
const RETRY_AFTER_SECONDS = '5'

/**
 * Refusals answered before the body was read (or while it was still coming): the connection is
 * closed with the answer rather than kept by reading up to a megabyte nobody wants.
 */
const UNREAD_BODY_STATUSES = new Set([401, 405, 413, 415])

export function isUpdate (body: unknown): body is Update {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return false
  const id = (body as { update_id?: unknown }).update_id
  return typeof id === 'number' && Number.isSafeInteger(id) && id >= 0
}

/** The webhook's routes, registered under the /telegram prefix (Caddy strips /api). */
export async function webhookRoutes (app: FastifyInstance, { ingress, secret, warningIntervalMs }: WebhookOptions): Promise<void> {
  const secretMatches = secretMatcher(secret)
  const wrongSecret = new RepeatedWarning(app.log, 'webhook call with a missing or wrong secret token', warningIntervalMs)
  app.addHook('onClose', async () => { wrongSecret.flush() })
  // Fastify also reads text/plain by default; an update is JSON only (415 otherwise).
  app.removeContentTypeParser('text/plain')
  // Connections answered with `Connection: close`. Node ends such a socket after that answer, so a
  // request pipelined behind it could never be answered, and must not be taken either.
  const closing = new WeakSet<Socket>()

  // The hooks and the handler are callback-style, not async: Fastify runs an async hook or handler
  // through a promise and a microtask turn of its own, on every update (bench/README.md, issue 12).

  // Shutting down, or a refusal of an unread body: the answer closes its connection. While
  // shutting down no answer may keep one open, or closing the server waits for the client to hang up.
  app.addHook('onSend', (request, reply, payload, done) => {
    if (ingress.closed || UNREAD_BODY_STATUSES.has(reply.statusCode)) {
      reply.header('connection', 'close')
      closing.add(request.raw.socket)
    }
    done(null, payload)
  })

  const checkSecret = (request: FastifyRequest, reply: FastifyReply, done: () => void): void => {
    if (closing.has(request.raw.socket)) {
      reply.hijack()
      done()
      return
    }
    const header = request.headers[SECRET_HEADER]
    if (secretMatches(typeof header === 'string' ? header : undefined)) {
      done()
      return
    }
    wrongSecret.note({ ip: request.ip, has_header: header !== undefined, reqId: request.id })
    sendError(reply, 401, header === undefined ? 'Missing X-Telegram-Bot-Api-Secret-Token header' : 'Wrong X-Telegram-Bot-Api-Secret-Token header')
  }

  const answer = (request: FastifyRequest, reply: FastifyReply, update: Update, outcome: AcceptOutcome): void => {
    if (outcome === 'closed') {
      // Not a 2xx, so Telegram keeps the update and sends it again (to us after a restart).
      sendError(reply.header('retry-after', RETRY_AFTER_SECONDS), 503, 'Shutting down: Telegram will deliver this update again')
      return
    }
    if (outcome === 'unavailable') {
      // Durable mode, and the update could not be committed: never a 200 for it.
      sendError(reply.header('retry-after', RETRY_AFTER_SECONDS), 503, 'Database unavailable: the update was not stored; Telegram will deliver it again')
      return
    }
    if (outcome === 'duplicate') request.log.info({ update_id: update.update_id }, 'redelivered update acknowledged, not handled again')
    reply.code(200).send()
  }

  const failed = (request: FastifyRequest, reply: FastifyReply, update: Update, err: unknown): void => {
    // Not the update's fault (a dedupe store that fails, say): 500, so Telegram tries again later.
    request.log.error({ err, update_id: update.update_id }, 'webhook request failed')
    sendError(reply, 500, 'Internal Server Error')
  }

  app.route({
    method: 'POST',
    url: '/webhook',
    onRequest: checkSecret,
    handler: (request, reply) => {
      const update = request.body
      if (!isUpdate(update)) {
        const message = 'Body must be a Telegram Update: a JSON object with a non-negative integer update_id'
        request.log.info({ method: request.method, url: request.url, status: 400, reason: message }, 'request rejected')
        sendError(reply, 400, message)
        return
      }
      ingress.accept(update).then((outcome) => { answer(request, reply, update, outcome) }, (err: unknown) => { failed(request, reply, update, err) })
    }
  })
  // The guide's first check of a deployment: a GET on the webhook gives 405, not 404.
  methodNotAllowed(app, '/webhook', ['POST'])
}
