// GET /telegram/webhook-info: the health probe. 200 only when Telegram delivers to the configured
// URL; the body says why not otherwise. Telegram's answer is cached (WebhookState), so a probe
// every second, or many at once, costs at most one getWebhookInfo per TTL.
import type { FastifyPluginAsync } from 'fastify'
import type { Ingress } from '../ingress/ingress.js'
import type { Poller } from '../telegram/poller.js'
import type { WebhookState } from '../telegram/webhook-state.js'
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
  ingress: Ingress
  botApi: () => BotApiSockets
}

export const healthRoutes: FastifyPluginAsync<HealthRouteOptions> = async (app, { webhookState, poller, ingress, botApi }) => {
  app.get('/webhook-info', async (_request, reply) => {
    if (webhookState === undefined) {
      const running = poller?.running === true
      return reply.code(running ? 200 : 503).send({
        ok: running,
        mode: 'polling',
        verdict: 'polling',
        reason: running ? 'Polling mode (TELEGRAM_USE_WEBHOOK=false): updates are fetched with getUpdates.' : 'Polling mode, but polling is not running.',
        ingress: ingress.stats,
        bot_api: botApi()
      })
    }
    const report = await webhookState.report()
    return reply.code(report.ok ? 200 : 503).send({ ...report, mode: 'webhook', ingress: ingress.stats, bot_api: botApi() })
  })
  methodNotAllowed(app, '/webhook-info', ['GET', 'HEAD'])
}
