// Durable mode's worker process: `node dist/worker.js` (`npm run worker`), the same image and build
// as the web process. It runs the bot on the updates the webhook stored (DATABASE_URL), in per-chat
// order; any number of them, on any machine that reaches the database. SIGTERM: the running jobs
// finish, then exit 0.
import { pathToFileURL } from 'node:url'
import closeWithGrace from 'close-with-grace'
import type { DestinationStream } from 'pino'
import { BotApiAgent, createTelegraf, installFeatures, type BotFeature } from './bot/index.js'
import { ConfigError, loadConfig, secretsOf } from './config.js'
import { DATABASE_START_TIMEOUT_MS, DurableStore } from './durable/store.js'
import { workerFor, type UpdateWorker } from './durable/worker.js'
import { createLogger, SecretScrubber, type Log } from './logger.js'
import { withoutTokens } from './telegram/errors.js'
import { checkToken, StartupError, type RetryOptions } from './telegram/startup.js'

export interface WorkerProcessOptions {
  env: Record<string, string | undefined>
  logStream?: DestinationStream
  features?: BotFeature[]
  signal?: AbortSignal
  retry?: Omit<RetryOptions, 'signal'>
}

export interface RunningWorker {
  worker: UpdateWorker
  log: Log
  stop: () => Promise<void>
}

export async function startWorker (options: WorkerProcessOptions): Promise<RunningWorker> {
  const config = loadConfig(options.env, 'worker')
  const durable = config.durable
  if (durable === undefined) throw new ConfigError('DATABASE_URL', 'is required by the worker (durable mode): postgres://USER:PASSWORD@HOST:5432/DATABASE')
  const scrubber = new SecretScrubber()
  scrubber.add(secretsOf(config))
  const log = createLogger(scrubber, options.logStream, config.logLevel).child({ role: 'worker' })
  const bot = createTelegraf(config.botToken, config.apiRoot, new BotApiAgent())
  installFeatures(bot, { log, miniAppUrl: config.miniAppUrl }, options.features)
  const retry: RetryOptions = { ...options.retry, ...(options.signal !== undefined && { signal: options.signal }) }
  bot.botInfo = await checkToken(bot.telegram, log, retry)
  // Two connections: migrate() holds one for its advisory lock while graphile-worker's
  // runMigrations takes another from the same pool; with one, it waits for itself until timeout.
  const store = new DurableStore(durable.databaseUrl, log, { poolSize: 2, name: 'migrate' })
  try {
    await store.migrateWhenReachable(DATABASE_START_TIMEOUT_MS, options.signal)
  } finally {
    await store.close()
  }
  const worker = workerFor(durable, bot, log)
  await worker.start()
  let stopping: Promise<void> | undefined
  return { worker, log, stop: async () => { stopping ??= worker.stop(); await stopping } }
}

function explain (err: unknown): string {
  const known = err instanceof ConfigError || err instanceof StartupError
  const text = known ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)
  return `telegram-ingress worker: ${withoutTokens(text)}`
}

async function main (): Promise<void> {
  const abort = new AbortController()
  let running: RunningWorker | undefined
  closeWithGrace({ delay: null, logger: false }, async ({ signal, err }) => {
    if (err !== undefined) console.error(explain(err))
    abort.abort()
    if (signal !== undefined) running?.log.info({ signal }, 'signal received; finishing the running jobs')
    await running?.stop()
  })
  try {
    running = await startWorker({ env: process.env, signal: abort.signal })
  } catch (err) {
    if (abort.signal.aborted) return
    console.error(explain(err))
    process.exit(1)
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => { console.error(explain(err)); process.exit(1) })
}
