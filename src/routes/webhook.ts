// POST /telegram/webhook: the door Telegram knocks on. Checks in the order that costs an attacker
// most and us least: secret (before the body is read), content type, size, shape; then the ingress.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import type { Update } from 'telegraf/types'
import type { AcceptOutcome, Ingress } from '../ingress/ingress.js'
import { BODY_LIMIT_BYTES, methodNotAllowed, sendError } from './http-errors.js'
import { secretMatcher } from './secure-compare.js'

export interface WebhookRouteOptions {
  ingress: Ingress
  secret: string
}

export const SECRET_HEADER = 'x-telegram-bot-api-secret-token'

export function isUpdate (body: unknown): body is Update {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return false
  const id = (body as { update_id?: unknown }).update_id
  return typeof id === 'number' && Number.isSafeInteger(id) && id >= 0
}

export const webhookRoutes: FastifyPluginAsync<WebhookRouteOptions> = async (app, { ingress, secret }) => {
  const secretMatches = secretMatcher(secret)
  // JSON only: without this, Fastify's text/plain parser would hand us strings.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('application/json', { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'))

  // A callback hook, not an async one: no promise and no extra microtask turn on every update.
  const checkSecret = (request: FastifyRequest, reply: FastifyReply, done: () => void): void => {
    const header = request.headers[SECRET_HEADER]
    if (secretMatches(typeof header === 'string' ? header : undefined)) {
      done()
      return
    }
    request.log.warn({ ip: request.ip, has_header: header !== undefined }, 'webhook call with a missing or wrong secret token')
    sendError(reply, 401, header === undefined
      ? 'Missing X-Telegram-Bot-Api-Secret-Token header'
      : 'Wrong X-Telegram-Bot-Api-Secret-Token header')
  }

  const answer = (request: FastifyRequest, reply: FastifyReply, update: Update, outcome: AcceptOutcome): void => {
    // Shutting down: this connection must not stay open for keep-alive, or closing the server
    // waits for Telegram to hang up (Fastify only drops the connections idle when close() began).
    if (ingress.closed) reply.header('Connection', 'close')
    if (outcome === 'closed') {
      // Not a 2xx, so Telegram keeps the update and sends it again (to us after a restart).
      sendError(reply.header('Retry-After', '5'), 503, 'Shutting down: Telegram will deliver this update again')
      return
    }
    if (outcome === 'duplicate') request.log.info({ update_id: update.update_id }, 'redelivered update acknowledged, not handled again')
    reply.code(200).send()
  }

  app.route({
    method: 'POST',
    url: '/webhook',
    bodyLimit: BODY_LIMIT_BYTES,
    onRequest: checkSecret,
    handler: (request, reply) => {
      const update = request.body
      if (!isUpdate(update)) {
        sendError(reply, 400, 'Body must be a Telegram Update: a JSON object with a non-negative integer update_id')
        return
      }
      const outcome = ingress.accept(update)
      // Not an async handler: with budget 0 the outcome is known at once, and the 2xx goes out now.
      if (typeof outcome === 'string') answer(request, reply, update, outcome)
      else outcome.then((o) => { answer(request, reply, update, o) }, (err: unknown) => reply.send(err))
    }
  })
  methodNotAllowed(app, '/webhook', ['POST'])
}
