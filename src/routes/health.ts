// GET /telegram/webhook-info: the health probe. 200 only when Telegram delivers to the configured
// URL; the body says why not otherwise. Telegram's answer is cached (WebhookState), so a probe
// every second, or many at once, costs at most one getWebhookInfo per TTL.
import type { FastifyPluginAsync } from 'fastify'
import type { Ingress } from '../ingress/ingress.js'
import type { Poller } from '../telegram/poller.js'
import type { WebhookState } from '../telegram/webhook-state.js'
import { methodNotAllowed } from './http-errors.js'

export interface HealthRouteOptions {
  webhookState: WebhookState | undefined
  poller: Poller | undefined
  ingress: Ingress
}

export const healthRoutes: FastifyPluginAsync<HealthRouteOptions> = async (app, { webhookState, poller, ingress }) => {
  app.get('/webhook-info', async (_request, reply) => {
    if (webhookState === undefined) {
      const running = poller?.running === true
      return reply.code(running ? 200 : 503).send({
        ok: running,
        mode: 'polling',
        verdict: 'polling',
        reason: running ? 'Polling mode (TELEGRAM_USE_WEBHOOK=false): updates are fetched with getUpdates.' : 'Polling mode, but polling is not running.',
        ingress: ingress.stats
      })
    }
    const report = await webhookState.report()
    return reply.code(report.ok ? 200 : 503).send({ ...report, mode: 'webhook', ingress: ingress.stats })
  })
  methodNotAllowed(app, '/webhook-info', ['GET', 'HEAD'])
}
