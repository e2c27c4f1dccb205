// GET /telegram/webhook-info: the health probe. 200 only when Telegram delivers to the configured
// URL; the body says why not otherwise. Telegram's answer is cached (WebhookState), so a probe
// every second, or many at once, costs at most one getWebhookInfo per TTL.
import type { FastifyPluginAsync } from 'fastify'
import type { UpdateIngress } from '../ingress/ingress.js'
import type { Poller } from '../telegram/poller.js'
import type { WebhookState } from '../telegram/webhook-state.js'
import type { DatabaseReport } from '../durable/store.js'
import { methodNotAllowed } from './http-errors.js'

/** The bot's connections to the Bot API: null where they are not counted (an http:// root). */
export interface BotApiSockets {
  open_sockets: number | null
  max_sockets: number | null
  silence_timeout_ms: number | null
}

export interface HealthRouteOptions {
  webhookState: WebhookState | undefined
  poller: Poller | undefined
  ingress: UpdateIngress
  botApi: () => BotApiSockets
  /** Durable mode: the database's state; a database that fails makes the service unhealthy. */
  database?: () => Promise<DatabaseReport>
}

export const healthRoutes: FastifyPluginAsync<HealthRouteOptions> = async (app, { webhookState, poller, ingress, botApi, database }) => {
  app.get('/webhook-info', async (_request, reply) => {
    const db = database === undefined ? undefined : await database()
    const durable = db === undefined ? { durable: false } : { durable: true, database: db }
    if (webhookState === undefined) {
      const running = poller?.running === true
      const ok = running && db?.ok !== false
      return reply.code(ok ? 200 : 503).send({
        ok,
        mode: 'polling',
        verdict: 'polling',
        reason: !running
          ? 'Polling mode, but polling is not running.'
          : db?.ok === false
            ? 'Polling mode, but the database does not answer: updates are not taken.'
            : 'Polling mode (TELEGRAM_USE_WEBHOOK=false): updates are fetched with getUpdates.',
        ...durable,
        ingress: ingress.stats,
        bot_api: botApi()
      })
    }
    const report = await webhookState.report()
    // The webhook's verdict and reason are Telegram's side; a failing database is said apart, and
    // is enough to make the probe fail (updates are answered 503 meanwhile).
    const ok = report.ok && db?.ok !== false
    return reply.code(ok ? 200 : 503).send({ ...report, ok, mode: 'webhook', ...durable, ingress: ingress.stats, bot_api: botApi() })
  })
  methodNotAllowed(app, '/webhook-info', ['GET', 'HEAD'])
}
