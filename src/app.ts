// buildApp(): the configuration, the bot and the routes wired into one Fastify instance, without
// listening and without calling Telegram (start-up checks are the process's job: server.ts).
// Tests build it and use inject().
import fastifyEnv from '@fastify/env'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { DestinationStream } from 'pino'
import type { Telegraf } from 'telegraf'
import type { UserFromGetMe } from 'telegraf/types'
import { BotApiAgent, createTelegraf, installFeatures, type BotFeature } from './bot/index.js'
import { envSchema, resolveConfig, secretsOf, setValues, toConfigError, type Config, type RawEnv } from './config.js'
import { DurableIngress } from './durable/ingress.js'
import { DatabaseHealth, DurableStore } from './durable/store.js'
import { Ingress, type UpdateIngress } from './ingress/ingress.js'
import type { UpdateDedupe } from './ingress/dedupe.js'
import { createLogger, lazyRequestLoggerFactory, RepeatedWarning, SecretScrubber } from './logger.js'
import { adminRoutes } from './routes/admin.js'
import { healthRoutes, type BotApiSockets } from './routes/health.js'
import { BODY_LIMIT_BYTES, clientErrorHandler, expectationFailed, installErrorHandlers, installJsonParser, routeEveryMethod } from './routes/http-errors.js'
import { TRUSTED_PROXIES, webhookRoutes } from './routes/webhook.js'
import { SERVER_LIMITS, type ServerLimits } from './server-limits.js'
import { Poller } from './telegram/poller.js'
import { WebhookState, type WebhookStateOptions } from './telegram/webhook-state.js'

export interface AppOptions {
  /** The environment (process.env in production); values that are empty strings count as unset. */
  env: Record<string, string | undefined>
  logStream?: DestinationStream
  /** The bot's features; the product's own by default. */
  features?: BotFeature[]
  /** Preset instead of calling getMe (tests; server.ts sets it from its own getMe). */
  botInfo?: UserFromGetMe
  dedupe?: UpdateDedupe
  /** The health route's cache TTL and call timeout (tests); the defaults otherwise. */
  webhookInfo?: Pick<WebhookStateOptions, 'ttlMs' | 'timeoutMs'>
  /** How often a repeated wrong-secret or wrong-token warning is written (tests); a minute by default. */
  warningIntervalMs?: number
  /** Deadlines of the connections (tests shorten them); SERVER_LIMITS otherwise. */
  serverLimits?: Partial<Omit<ServerLimits, 'maxConnections'>>
}

declare module 'fastify' {
  interface FastifyInstance {
    env: RawEnv
    config: Config
    bot: Telegraf
    ingress: UpdateIngress
    poller: Poller | undefined
    /** Durable mode's database (DATABASE_URL set); undefined in the in-process mode. */
    store: DurableStore | undefined
  }
}

function initialLevel (level: string | undefined): string {
  return level !== undefined && (envSchema.properties.LOG_LEVEL.enum as readonly string[]).includes(level) ? level : 'info'
}

export async function buildApp (options: AppOptions): Promise<FastifyInstance> {
  const scrubber = new SecretScrubber()
  const log = createLogger(scrubber, options.logStream, initialLevel(options.env.LOG_LEVEL))
  const limits = { ...SERVER_LIMITS, ...options.serverLimits }
  const app = Fastify({
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionTimeout: limits.idleTimeoutMs,
    http: { headersTimeout: limits.headersTimeoutMs, connectionsCheckingInterval: limits.checkIntervalMs },
    clientErrorHandler: clientErrorHandler(limits),
    // Fastify is given no logger of its own. With one, it adds two response listeners and a clock
    // reading to every request, for the "request completed" line we turn off anyway: about 3% of
    // the CPU per update in an A/B run (bench/README.md). request.log is still ours: the factory
    // below makes it, lazily (no pino child until a request logs its first line), and app.log is
    // set just after.
    logger: false,
    childLoggerFactory: lazyRequestLoggerFactory(log),
    // No "incoming request" line either: one line per request would cost most of all.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT_BYTES,
    // While closing, the webhook itself answers 503 with Retry-After (Telegram honours it), and
    // Fastify adds Connection: close to every answer; its own 503 would carry no Retry-After.
    return503OnClosing: false,
    // Behind Caddy the socket peer is the proxy; the secret token is the real check anyway.
    trustProxy: TRUSTED_PROXIES
  })
  app.log = log as FastifyBaseLogger
  app.server.on('checkExpectation', expectationFailed)

  let config: Config
  try {
    // env: false, or env-schema would also read process.env, where compose's env_file puts every
    // blank line of .env as an empty string: options.env (process.env in production) is the one
    // source, and setValues has dropped its blanks.
    await app.register(fastifyEnv, { confKey: 'env', schema: envSchema, data: setValues(options.env), env: false, dotenv: false })
    config = resolveConfig(app.env)
  } catch (err) {
    await app.close()
    throw toConfigError(err)
  }
  // From here on no log line may carry the token, the secret or the admin token.
  scrubber.add(secretsOf(config))
  app.server.maxConnections = config.httpMaxConnections
  const refused = new RepeatedWarning(log, `connection refused: ${config.httpMaxConnections} connections are open, the most HTTP_MAX_CONNECTIONS allows`, options.warningIntervalMs)
  app.server.on('drop', (data?: { remoteAddress?: string }) => { refused.note({ remote_address: data?.remoteAddress }) })
  app.addHook('onClose', async () => { refused.flush() })

  const apiAgent = new BotApiAgent()
  const bot = createTelegraf(config.botToken, config.apiRoot, apiAgent)
  // Telegraf keeps the agent for an https:// root only, and uses none for http:// (bot/index.ts).
  const botApi = (): BotApiSockets => bot.telegram.options.agent === apiAgent
    ? { open_sockets: apiAgent.openSockets, max_sockets: apiAgent.maxSockets, silence_timeout_ms: apiAgent.silenceMs }
    : { open_sockets: null, max_sockets: null, silence_timeout_ms: null }
  if (options.botInfo !== undefined) bot.botInfo = options.botInfo
  installFeatures(bot, { log, miniAppUrl: config.miniAppUrl }, options.features)

  // Durable mode: the webhook stores, workers run the bot (durable/). Otherwise the bot runs here.
  const store = config.durable === undefined ? undefined : new DurableStore(config.durable.databaseUrl, log)
  const ingress: UpdateIngress = store !== undefined
    ? new DurableIngress(store, log, options.warningIntervalMs)
    : new Ingress({
      handle: async (update) => { await bot.handleUpdate(update) },
      log,
      budgetMs: config.handlerBudgetMs,
      maxBacklog: config.maxBacklog,
      ...(options.dedupe !== undefined && { dedupe: options.dedupe })
    })
  // The pool last: stores still in flight (or waiting for a connection) finish first, or a closed
  // pool would fail them into 503s while the shutdown line says every taken update was stored.
  if (store !== undefined) {
    app.addHook('onClose', async () => {
      await ingress.drain(config.shutdownTimeoutMs)
      await store.close()
    })
  }
  const databaseHealth = store === undefined ? undefined : new DatabaseHealth(store)
  const webhookState = config.useWebhook && config.webhookUrl !== undefined
    ? new WebhookState({ getWebhookInfo: async (signal) => await bot.telegram.callApi('getWebhookInfo', {}, { signal: signal as never }) }, { url: config.webhookUrl, maxConnections: config.maxConnections, allowedUpdates: config.allowedUpdates }, options.webhookInfo)
    : undefined
  const poller = config.useWebhook ? undefined : new Poller(bot.telegram, ingress, log, { allowedUpdates: config.allowedUpdates })

  app.decorate('config', config)
  app.decorate('bot', bot)
  app.decorate('ingress', ingress)
  app.decorate('poller', poller)
  app.decorate('store', store)

  installErrorHandlers(app)
  installJsonParser(app)
  routeEveryMethod(app)
  await app.register(async (telegram) => {
    const { warningIntervalMs } = options
    await telegram.register(webhookRoutes, { ingress, secret: config.webhookSecret, warningIntervalMs })
    await telegram.register(healthRoutes, { webhookState, poller, ingress, botApi, ...(databaseHealth !== undefined && { database: async () => await databaseHealth.report() }) })
    await telegram.register(adminRoutes, { config, telegram: bot.telegram, webhookState, warningIntervalMs })
  }, { prefix: '/telegram' })
  return app
}
