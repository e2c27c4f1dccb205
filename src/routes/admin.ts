// POST /telegram/set-webhook and /telegram/delete-webhook, behind TELEGRAM_ADMIN_TOKEN, so nobody
// has to paste the bot token into a curl command line (and nobody else can repoint the bot).
import rateLimit from '@fastify/rate-limit'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import type { Telegram } from 'telegraf'
import { webhookUrlProblem, type Config } from '../config.js'
import { RepeatedWarning } from '../logger.js'
import { describeError, isBadToken, retryAfterSeconds, telegramCode } from '../telegram/errors.js'
import type { WebhookState } from '../telegram/webhook-state.js'
import { methodNotAllowed, sendError } from './http-errors.js'
import { secretMatcher } from './secure-compare.js'

export interface AdminRouteOptions {
  config: Config
  telegram: Telegram
  webhookState: WebhookState | undefined
  /** How often a wrong-token warning is written, at most (tests shorten it). */
  warningIntervalMs?: number
}

/** Admin calls per client address (through the trusted proxy) and minute, at most. */
export const ADMIN_CALLS_PER_MINUTE = 10

export interface SetWebhookParams {
  url: string
  max_connections: number
  drop_pending_updates: boolean
  allowed_updates: string[] | undefined
}

const SET_WEBHOOK_FIELDS = ['url', 'max_connections', 'drop_pending_updates', 'allowed_updates']

type Parsed<T> = { ok: true, value: T } | { ok: false, message: string }

function asObject (body: unknown): Parsed<Record<string, unknown>> {
  if (body === undefined || body === null) return { ok: true, value: {} }
  if (typeof body !== 'object' || Array.isArray(body)) return { ok: false, message: 'Body must be a JSON object' }
  return { ok: true, value: body as Record<string, unknown> }
}

function checkFields (body: Record<string, unknown>, allowed: string[]): string | undefined {
  const unknown = Object.keys(body).find((k) => !allowed.includes(k))
  return unknown === undefined ? undefined : `Unknown field "${unknown}" (allowed: ${allowed.join(', ')})`
}

/** The set-webhook body, checked like the configuration, with the configuration's defaults. */
function parseSetWebhookBody (body: unknown, config: Config): Parsed<SetWebhookParams> {
  const object = asObject(body)
  if (!object.ok) return object
  const b = object.value
  const unknownField = checkFields(b, SET_WEBHOOK_FIELDS)
  if (unknownField !== undefined) return { ok: false, message: unknownField }

  const url = b.url ?? config.webhookUrl
  if (url === undefined) return { ok: false, message: 'url is required: TELEGRAM_WEBHOOK_URL is not set' }
  if (typeof url !== 'string') return { ok: false, message: 'url must be a string' }
  const urlProblem = webhookUrlProblem(url, config.apiRoot)
  if (urlProblem !== undefined) return { ok: false, message: `url ${urlProblem}` }

  const maxConnections = b.max_connections ?? config.maxConnections
  if (typeof maxConnections !== 'number' || !Number.isInteger(maxConnections) || maxConnections < 1 || maxConnections > 100) {
    return { ok: false, message: 'max_connections must be an integer from 1 to 100' }
  }
  const drop = b.drop_pending_updates ?? false
  if (typeof drop !== 'boolean') return { ok: false, message: 'drop_pending_updates must be true or false' }
  const allowed = b.allowed_updates ?? config.allowedUpdates
  if (allowed !== undefined && (!Array.isArray(allowed) || !allowed.every((t) => typeof t === 'string' && /^[a-z_]+$/.test(t)))) {
    return { ok: false, message: 'allowed_updates must be an array of update types such as ["message","callback_query"]' }
  }
  return { ok: true, value: { url, max_connections: maxConnections, drop_pending_updates: drop, allowed_updates: allowed as string[] | undefined } }
}

function parseDeleteWebhookBody (body: unknown): Parsed<{ drop_pending_updates: boolean }> {
  const object = asObject(body)
  if (!object.ok) return object
  const unknownField = checkFields(object.value, ['drop_pending_updates'])
  if (unknownField !== undefined) return { ok: false, message: unknownField }
  const drop = object.value.drop_pending_updates ?? false
  if (typeof drop !== 'boolean') return { ok: false, message: 'drop_pending_updates must be true or false' }
  return { ok: true, value: { drop_pending_updates: drop } }
}

/** A failed Bot API call as an answer: Telegram's 4xx about our input stays a 4xx; the rest is 502. */
function sendTelegramFailure (reply: FastifyReply, method: string, err: unknown): FastifyReply {
  const code = telegramCode(err)
  if (code === 429) {
    const seconds = retryAfterSeconds(err) ?? 1
    return sendError(reply.header('Retry-After', String(seconds)), 429, `Telegram limits ${method} (about once a second): retry after ${seconds} s`)
  }
  if (isBadToken(err)) return sendError(reply, 502, `Telegram rejected the bot token during ${method}: check TELEGRAM_BOT_TOKEN`)
  if (code !== undefined && code >= 400 && code < 500) return sendError(reply, 400, `Telegram rejected ${method}: ${describeError(err)}`)
  return sendError(reply, 502, `${method} failed: ${describeError(err)}`)
}

export const adminRoutes: FastifyPluginAsync<AdminRouteOptions> = async (app, { config, telegram, webhookState, warningIntervalMs }) => {
  const adminToken = config.adminToken
  const tokenMatches = adminToken === undefined ? () => false : secretMatcher(adminToken)
  const wrongToken = new RepeatedWarning(app.log, 'admin call with a wrong token', warningIntervalMs)
  app.addHook('onClose', async () => { wrongToken.flush() })
  // Guessing the token: 10 tries a minute per address, in memory (an LRU of 5000 addresses).
  await app.register(rateLimit, {
    global: false,
    errorResponseBuilder: (_request, context) => Object.assign(new Error(`Too many admin calls from this address: at most ${context.max} a minute; retry in ${Math.ceil(context.ttl / 1000)} s`), { statusCode: 429 })
  })
  // Counted before the token is checked (a guess is what it counts), so first among the hooks.
  const limited = app.rateLimit({ max: ADMIN_CALLS_PER_MINUTE, timeWindow: 60_000 })

  // Route-level, so a wrong method still gets its 405 before any token check.
  const requireAdmin = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    if (adminToken === undefined) {
      return sendError(reply, 403, 'Admin routes are disabled: set TELEGRAM_ADMIN_TOKEN (at least 16 characters) to enable them, then send "Authorization: Bearer <TELEGRAM_ADMIN_TOKEN>"')
    }
    const header = request.headers.authorization
    if (header === undefined || !header.startsWith('Bearer ')) {
      return sendError(reply.header('WWW-Authenticate', 'Bearer'), 401, 'Missing "Authorization: Bearer <TELEGRAM_ADMIN_TOKEN>" header')
    }
    if (!tokenMatches(header.slice('Bearer '.length))) {
      wrongToken.note({ ip: request.ip, url: request.url, reqId: request.id })
      return sendError(reply.header('WWW-Authenticate', 'Bearer error="invalid_token"'), 401, 'Wrong admin token')
    }
    return undefined
  }

  app.post('/set-webhook', { onRequest: [limited, requireAdmin] }, async (request, reply) => {
    if (!config.useWebhook) {
      return sendError(reply, 409, 'This instance polls (TELEGRAM_USE_WEBHOOK=false): a webhook would stop its polling. Run in webhook mode to set one.')
    }
    const parsed = parseSetWebhookBody(request.body, config)
    if (!parsed.ok) return sendError(reply, 400, parsed.message)
    const p = parsed.value
    try {
      await telegram.setWebhook(p.url, {
        secret_token: config.webhookSecret,
        max_connections: p.max_connections,
        drop_pending_updates: p.drop_pending_updates,
        ...(p.allowed_updates !== undefined && { allowed_updates: p.allowed_updates as never })
      })
    } catch (err) {
      return sendTelegramFailure(reply, 'setWebhook', err)
    } finally {
      webhookState?.invalidate()
    }
    request.log.info({ url: p.url, max_connections: p.max_connections, drop_pending_updates: p.drop_pending_updates }, 'webhook set by admin')
    return { ok: true, message: 'Webhook set successfully', url: p.url, maxConnections: p.max_connections, dropPendingUpdates: p.drop_pending_updates, allowedUpdates: p.allowed_updates ?? null }
  })

  app.post('/delete-webhook', { onRequest: [limited, requireAdmin] }, async (request, reply) => {
    const parsed = parseDeleteWebhookBody(request.body)
    if (!parsed.ok) return sendError(reply, 400, parsed.message)
    try {
      await telegram.deleteWebhook(parsed.value)
    } catch (err) {
      return sendTelegramFailure(reply, 'deleteWebhook', err)
    } finally {
      webhookState?.invalidate()
    }
    request.log.warn({ drop_pending_updates: parsed.value.drop_pending_updates }, 'webhook deleted by admin')
    return { ok: true, message: 'Webhook deleted', dropPendingUpdates: parsed.value.drop_pending_updates }
  })

  methodNotAllowed(app, '/set-webhook', ['POST'])
  methodNotAllowed(app, '/delete-webhook', ['POST'])
}
