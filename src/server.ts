// The process: configuration -> app -> start-up checks with Telegram -> listen -> one banner line;
// on SIGTERM/SIGINT: stop taking updates, finish what was taken (bounded), exit 0.
import { setTimeout as sleep } from 'node:timers/promises'
import { pathToFileURL } from 'node:url'
import closeWithGrace from 'close-with-grace'
import type { FastifyInstance } from 'fastify'
import { buildApp, type AppOptions } from './app.js'
import { DATABASE_START_TIMEOUT_MS } from './durable/store.js'
import { workerFor, type UpdateWorker } from './durable/worker.js'
import { ConfigError, KNOWN_UPDATE_TYPES } from './config.js'
import { withoutTokens } from './telegram/errors.js'
import { checkToken, ensureWebhook, guardPolling, StartupError, type RetryOptions } from './telegram/startup.js'

export interface StartOptions extends Pick<AppOptions, 'env' | 'logStream' | 'features'> {
  /** Aborts the start-up retries (a signal that arrives while Telegram is unreachable). */
  signal?: AbortSignal
  retry?: Omit<RetryOptions, 'signal'>
}

export interface RunningService {
  app: FastifyInstance
  /** Where it listens, e.g. http://127.0.0.1:3000. */
  url: string
  /** Rejects when the service fails after start-up (polling: a 409 or a revoked token). */
  failed: Promise<never>
  /** Stop taking updates, finish the taken ones (bounded by SHUTDOWN_TIMEOUT_MS), close. Idempotent. */
  stop: () => Promise<void>
}

export async function startService (options: StartOptions): Promise<RunningService> {
  const app = await buildApp(options)
  const { config, bot, ingress, poller, log, store } = app
  let worker: UpdateWorker | undefined
  const retry: RetryOptions = { ...options.retry, ...(options.signal !== undefined && { signal: options.signal }) }
  const unknownTypes = config.allowedUpdates?.filter((type) => !KNOWN_UPDATE_TYPES.has(type)) ?? []
  if (unknownTypes.length > 0) log.warn({ unknown: unknownTypes }, 'TELEGRAM_ALLOWED_UPDATES names update types this version does not know; a typo means those updates never arrive')
  let webhookFields: Record<string, unknown>
  try {
    const me = await checkToken(bot.telegram, log, retry)
    bot.botInfo = me
    if (store !== undefined && config.durable !== undefined) {
      // Tables first: the webhook's first update needs them. Several replicas may start together.
      await store.migrateWhenReachable(DATABASE_START_TIMEOUT_MS, options.signal)
      if (config.durable.runWorker) {
        worker = workerFor(config.durable, bot, log)
        await worker.start()
      }
    }
    if (config.useWebhook && config.webhookUrl !== undefined) {
      const { changed } = await ensureWebhook(bot.telegram, {
        url: config.webhookUrl,
        maxConnections: config.maxConnections,
        allowedUpdates: config.allowedUpdates,
        secret: config.webhookSecret
      }, log, retry)
      webhookFields = { webhook_url: config.webhookUrl, webhook_set_now: changed.length > 0, webhook_changes: changed, secret_derived: config.webhookSecretDerived }
    } else {
      await guardPolling(bot.telegram, config.deleteWebhookForPolling, log, retry)
      webhookFields = { webhook_url: null }
    }
    await app.listen({ port: config.port, host: config.host })
    const mode = config.useWebhook ? 'webhook' : 'polling'
    log.info({ mode, bot: me.username, ...webhookFields, admin_routes: config.adminToken !== undefined }, `Telegram Bot initialized (${mode} mode): @${me.username}`)
  } catch (err) {
    await worker?.stop()
    await app.close()
    throw err
  }

  const failed = poller === undefined
    ? new Promise<never>(() => {})
    : poller.start().then(() => new Promise<never>(() => {}))
  failed.catch(() => {}) // observed by whoever awaits it; never an unhandled rejection

  let stopping: Promise<void> | undefined
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      log.info({ in_flight: ingress.inFlight }, 'shutting down: no new updates, finishing the taken ones')
      ingress.close()
      await poller?.stop()
      const finished = await Promise.race([
        // The worker last: its running jobs finish (graphile-worker's graceful shutdown); a job cut
        // short is taken again by another worker, or by this one after the restart.
        Promise.all([app.close(), ingress.drain(config.shutdownTimeoutMs)]).then(async ([, drained]) => {
          await worker?.stop()
          return drained
        }),
        // Unref'd: a finished shutdown must not keep the process alive for the rest of the timeout.
        sleep(config.shutdownTimeoutMs, false, { ref: false })
      ])
      if (finished) log.info(store === undefined ? 'shutdown complete: every taken update was handled' : 'shutdown complete: every taken update was stored, and the running jobs finished')
      else log.warn({ unfinished: ingress.inFlight }, `shutdown: handlers still running after ${config.shutdownTimeoutMs} ms were abandoned`)
    })()
    return stopping
  }

  const address = app.server.address()
  const url = typeof address === 'object' && address !== null
    ? `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`
    : String(address)
  return { app, url, failed, stop }
}

/** For the operator's terminal: the message alone for the failures we explain, never the token. */
function explain (err: unknown): string {
  const known = err instanceof ConfigError || err instanceof StartupError
  const text = known ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)
  return `telegram-ingress: ${withoutTokens(text)}`
}

async function main (): Promise<void> {
  const abort = new AbortController()
  let service: RunningService | undefined
  closeWithGrace({ delay: null, logger: false }, async ({ signal, err }) => {
    if (err !== undefined) console.error(explain(err))
    abort.abort()
    if (signal !== undefined) service?.app.log.info({ signal }, 'signal received')
    await service?.stop()
  })
  try {
    service = await startService({ env: process.env, signal: abort.signal })
  } catch (err) {
    if (abort.signal.aborted) return
    console.error(explain(err))
    process.exit(1)
  }
  try {
    await service.failed
  } catch (err) {
    console.error(explain(err))
    await service.stop()
    process.exit(1)
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => { console.error(explain(err)); process.exit(1) })
}
