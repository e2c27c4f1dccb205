// The whole configuration in one typed place: the environment schema (validated by @fastify/env at
// start-up), the cross-field rules it cannot express, and the values derived from them.
import { createHmac } from 'node:crypto'
import envSchemaLoad from 'env-schema'
import { DEFAULT_MAX_BACKLOG } from './ingress/ingress.js'
import { SERVER_LIMITS } from './server-limits.js'

const OFFICIAL_API_ROOT = 'https://api.telegram.org'
export const WEBHOOK_PATH_SUFFIX = '/telegram/webhook'
// Telegram only delivers to these ports (core.telegram.org/bots/webhooks); a local Bot API server
// (telegram-bot-api --local) accepts any port and plain http.
const TELEGRAM_WEBHOOK_PORTS = new Set(['', '443', '80', '88', '8443'])
// Bot API 9.x update types. An unknown name is allowed (Telegram adds types) but logged at start-up.
export const KNOWN_UPDATE_TYPES = new Set([
  'message', 'edited_message', 'channel_post', 'edited_channel_post', 'business_connection',
  'business_message', 'edited_business_message', 'deleted_business_messages', 'message_reaction',
  'message_reaction_count', 'inline_query', 'chosen_inline_result', 'callback_query', 'shipping_query',
  'pre_checkout_query', 'purchased_paid_media', 'poll', 'poll_answer', 'my_chat_member', 'chat_member',
  'chat_join_request', 'chat_boost', 'removed_chat_boost'
])
export const SECRET_TOKEN_PATTERN = '^[A-Za-z0-9_-]{1,256}$'
// Telegram waits 60 s for an answer, then counts the delivery as failed and sends the update again.
const TELEGRAM_RESPONSE_TIMEOUT_MS = 60_000

export const envSchema = {
  type: 'object',
  required: ['TELEGRAM_BOT_TOKEN'],
  properties: {
    TELEGRAM_BOT_TOKEN: { type: 'string', pattern: '^[0-9]+:[A-Za-z0-9_-]+$' },
    TELEGRAM_USE_WEBHOOK: { type: 'boolean', default: true },
    TELEGRAM_WEBHOOK_URL: { type: 'string' },
    TELEGRAM_WEBHOOK_SECRET: { type: 'string', pattern: SECRET_TOKEN_PATTERN },
    TELEGRAM_ADMIN_TOKEN: { type: 'string', minLength: 16 },
    TELEGRAM_MAX_CONNECTIONS: { type: 'integer', minimum: 1, maximum: 100, default: 100 },
    TELEGRAM_ALLOWED_UPDATES: { type: 'string' },
    TELEGRAM_HANDLER_BUDGET_MS: { type: 'integer', minimum: 0, maximum: TELEGRAM_RESPONSE_TIMEOUT_MS - 1, default: 5000 },
    TELEGRAM_MAX_BACKLOG: { type: 'integer', minimum: 1, maximum: 1_000_000, default: DEFAULT_MAX_BACKLOG },
    TELEGRAM_MINI_APP_URL: { type: 'string' },
    TELEGRAM_API_ROOT: { type: 'string', default: OFFICIAL_API_ROOT },
    TELEGRAM_DELETE_WEBHOOK_FOR_POLLING: { type: 'boolean', default: false },
    SHUTDOWN_TIMEOUT_MS: { type: 'integer', minimum: 0, maximum: 600_000, default: 8000 },
    PORT: { type: 'integer', minimum: 0, maximum: 65535, default: 3000 },
    HOST: { type: 'string', minLength: 1, default: '0.0.0.0' },
    HTTP_MAX_CONNECTIONS: { type: 'integer', minimum: 1, maximum: 1_000_000, default: SERVER_LIMITS.maxConnections },
    LOG_LEVEL: { type: 'string', enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info' },
    DATABASE_URL: { type: 'string', pattern: '^postgres(ql)?://' },
    TELEGRAM_RUN_WORKER: { type: 'boolean', default: true },
    WORKER_CONCURRENCY: { type: 'integer', minimum: 1, maximum: 100, default: 10 },
    WORKER_LOST_AFTER_MS: { type: 'integer', minimum: 1000, maximum: 3_600_000, default: 60_000 },
    TELEGRAM_HANDLER_MAX_ATTEMPTS: { type: 'integer', minimum: 1, maximum: 25, default: 5 },
    // At least 48 h: Telegram keeps an undelivered update for 24 h, and a redelivery must still be
    // recognised after that, with a margin for clocks and outages.
    TELEGRAM_UPDATE_RETENTION_HOURS: { type: 'integer', minimum: 48, maximum: 8760, default: 48 }
  }
} as const

/** What @fastify/env hands over once the schema passed (types coerced, defaults applied). */
export interface RawEnv {
  TELEGRAM_BOT_TOKEN: string
  TELEGRAM_USE_WEBHOOK: boolean
  TELEGRAM_WEBHOOK_URL?: string
  TELEGRAM_WEBHOOK_SECRET?: string
  TELEGRAM_ADMIN_TOKEN?: string
  TELEGRAM_MAX_CONNECTIONS: number
  TELEGRAM_ALLOWED_UPDATES?: string
  TELEGRAM_HANDLER_BUDGET_MS: number
  TELEGRAM_MAX_BACKLOG: number
  TELEGRAM_MINI_APP_URL?: string
  TELEGRAM_API_ROOT: string
  TELEGRAM_DELETE_WEBHOOK_FOR_POLLING: boolean
  SHUTDOWN_TIMEOUT_MS: number
  PORT: number
  HOST: string
  HTTP_MAX_CONNECTIONS: number
  LOG_LEVEL: string
  DATABASE_URL?: string
  TELEGRAM_RUN_WORKER: boolean
  WORKER_CONCURRENCY: number
  WORKER_LOST_AFTER_MS: number
  TELEGRAM_HANDLER_MAX_ATTEMPTS: number
  TELEGRAM_UPDATE_RETENTION_HOURS: number
}

/** Durable mode's settings (DATABASE_URL set); undefined in the in-process mode. */
export interface DurableConfig {
  databaseUrl: string
  /** Run the worker inside the web process too (TELEGRAM_RUN_WORKER, default true). */
  runWorker: boolean
  workerConcurrency: number
  /** A worker silent for this long is taken for dead: its jobs and chats are unlocked. */
  workerLostAfterMs: number
  /** Runs of a throwing handler, at most, before its update is kept as failed. */
  handlerMaxAttempts: number
  retentionHours: number
}

export interface Config {
  botToken: string
  useWebhook: boolean
  /** Set in webhook mode (required there), optional in polling mode. */
  webhookUrl: string | undefined
  webhookSecret: string
  /** True when the secret was derived from the token rather than configured. */
  webhookSecretDerived: boolean
  adminToken: string | undefined
  maxConnections: number
  /** undefined = leave Telegram's setting alone (Telegram's default for a new webhook). */
  allowedUpdates: string[] | undefined
  handlerBudgetMs: number
  maxBacklog: number
  miniAppUrl: string | undefined
  apiRoot: string
  deleteWebhookForPolling: boolean
  shutdownTimeoutMs: number
  port: number
  host: string
  /** Open HTTP connections, at most (HTTP_MAX_CONNECTIONS); not Telegram's max_connections. */
  httpMaxConnections: number
  logLevel: string
  durable: DurableConfig | undefined
}

export class ConfigError extends Error {
  constructor (readonly variable: string, rule: string) {
    super(`${variable} ${rule}`)
    this.name = 'ConfigError'
  }
}

interface SchemaError { instancePath?: string, keyword?: string, message?: string, params?: { missingProperty?: string } }

// What a pattern means, in words (ajv would print the regular expression).
const PATTERN_RULES: Record<string, string> = {
  TELEGRAM_BOT_TOKEN: 'must look like 123456789:AAE... (digits, a colon, then letters, digits, _ or -), as @BotFather gives it',
  TELEGRAM_WEBHOOK_SECRET: 'must be 1-256 characters of A-Z a-z 0-9 _ - (Telegram\'s rule for secret_token)',
  DATABASE_URL: 'must start with postgres:// or postgresql://, e.g. postgres://USER:PASSWORD@HOST:5432/DATABASE'
}

/** @fastify/env's schema failure, as one ConfigError naming the variable and the rule. */
export function toConfigError (err: unknown): Error {
  const errors = (err as { errors?: SchemaError[] }).errors
  const first = errors?.[0]
  if (first === undefined) return err instanceof Error ? err : new Error(String(err))
  const variable = first.params?.missingProperty ?? first.instancePath?.replace(/^\//, '') ?? 'environment'
  if (first.keyword === 'required') return new ConfigError(variable, 'is required')
  const rule = first.keyword === 'pattern' ? PATTERN_RULES[variable] : undefined
  return new ConfigError(variable, rule ?? first.message ?? 'is invalid')
}

export function setValues (env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [key, value] of Object.entries(env)) if (value !== undefined && value !== '') out[key] = value
  return out
}

/**
 * The configuration without Fastify, for the worker process and the admin CLI: the same schema
 * through env-schema (what @fastify/env runs), the same blanks dropped, the same errors.
 */
export function loadConfig (env: Record<string, string | undefined>, role: Role): Config {
  let raw: RawEnv
  try {
    raw = envSchemaLoad({ schema: envSchema, data: setValues(env), env: false, dotenv: false }) as unknown as RawEnv
  } catch (err) {
    throw toConfigError(err)
  }
  return resolveConfig(raw, role)
}

/** Telegram accepts plain http and any port only from a local Bot API server. */
function isOfficialApiRoot (apiRoot: string): boolean {
  return new URL(apiRoot).hostname === 'api.telegram.org'
}

/**
 * Why `url` cannot be this service's webhook, or undefined when it can. Shared by the start-up
 * configuration and the set-webhook route, so both refuse the same URLs.
 */
export function webhookUrlProblem (url: string, apiRoot: string): string | undefined {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return 'must be an absolute URL'
  }
  const official = isOfficialApiRoot(apiRoot)
  if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && !official)) {
    return official
      ? 'must start with https:// (Telegram delivers webhooks over HTTPS only)'
      : 'must start with https:// or http://'
  }
  if (official && !TELEGRAM_WEBHOOK_PORTS.has(parsed.port)) {
    return `must use port 443, 80, 88 or 8443 (Telegram delivers to no other port; got ${parsed.port})`
  }
  if (!parsed.pathname.endsWith(WEBHOOK_PATH_SUFFIX)) {
    // The path is not repeated: a guide may have put the secret in it, and this line is printed.
    return `path must end in ${WEBHOOK_PATH_SUFFIX} (the path given is not shown, as it may hold a secret)`
  }
  if (parsed.username !== '' || parsed.password !== '') return 'must not contain credentials'
  return undefined
}

/** Splits and checks a comma-separated list of update types; undefined when unset or blank. */
export function parseAllowedUpdates (value: string | undefined): string[] | undefined {
  if (value === undefined || value.trim() === '') return undefined
  const types = value.split(',').map((s) => s.trim())
  const bad = types.find((s) => !/^[a-z_]+$/.test(s))
  if (bad !== undefined) {
    throw new ConfigError('TELEGRAM_ALLOWED_UPDATES', `must be a comma-separated list of update types such as message,callback_query (got "${bad}")`)
  }
  return [...new Set(types)]
}

/** A stable secret per bot, so webhook mode is never unauthenticated even when none is configured. */
export function deriveWebhookSecret (botToken: string): string {
  return createHmac('sha256', botToken).update('telegram-ingress webhook secret v1').digest('base64url')
}

function httpsUrlProblem (url: string): string | undefined {
  try {
    return new URL(url).protocol === 'https:' ? undefined : 'must start with https://'
  } catch {
    return 'must be an absolute https:// URL'
  }
}

/** Who reads the configuration: a worker process needs no webhook URL of its own. */
export type Role = 'server' | 'worker'

function durableConfig (env: RawEnv): DurableConfig | undefined {
  const url = env.DATABASE_URL
  if (url === undefined) return undefined
  try {
    // eslint-disable-next-line no-new
    new URL(url)
  } catch {
    throw new ConfigError('DATABASE_URL', 'must be a URL such as postgres://USER:PASSWORD@HOST:5432/DATABASE')
  }
  return {
    databaseUrl: url,
    runWorker: env.TELEGRAM_RUN_WORKER,
    workerConcurrency: env.WORKER_CONCURRENCY,
    workerLostAfterMs: env.WORKER_LOST_AFTER_MS,
    handlerMaxAttempts: env.TELEGRAM_HANDLER_MAX_ATTEMPTS,
    retentionHours: env.TELEGRAM_UPDATE_RETENTION_HOURS
  }
}

/** The cross-field rules and derived values; the schema has already checked each variable alone. */
export function resolveConfig (env: RawEnv, role: Role = 'server'): Config {
  const apiRoot = env.TELEGRAM_API_ROOT.replace(/\/+$/, '')
  try {
    const root = new URL(apiRoot)
    if (root.protocol !== 'https:' && root.protocol !== 'http:') throw new Error('protocol')
  } catch {
    throw new ConfigError('TELEGRAM_API_ROOT', 'must be an http:// or https:// URL such as https://api.telegram.org')
  }

  // Empty strings never get here: buildApp drops them before the schema (compose env_file blanks).
  const webhookUrl = env.TELEGRAM_WEBHOOK_URL
  if (env.TELEGRAM_USE_WEBHOOK && webhookUrl === undefined && role === 'server') {
    throw new ConfigError('TELEGRAM_WEBHOOK_URL', `is required in webhook mode (TELEGRAM_USE_WEBHOOK=true): the public https:// URL Telegram posts to, ending in ${WEBHOOK_PATH_SUFFIX}`)
  }
  if (webhookUrl !== undefined) {
    const problem = webhookUrlProblem(webhookUrl, apiRoot)
    if (problem !== undefined) throw new ConfigError('TELEGRAM_WEBHOOK_URL', problem)
  }

  const miniAppUrl = env.TELEGRAM_MINI_APP_URL
  const miniProblem = miniAppUrl === undefined ? undefined : httpsUrlProblem(miniAppUrl)
  if (miniProblem !== undefined) throw new ConfigError('TELEGRAM_MINI_APP_URL', miniProblem)

  return {
    botToken: env.TELEGRAM_BOT_TOKEN,
    useWebhook: env.TELEGRAM_USE_WEBHOOK,
    webhookUrl,
    webhookSecret: env.TELEGRAM_WEBHOOK_SECRET ?? deriveWebhookSecret(env.TELEGRAM_BOT_TOKEN),
    webhookSecretDerived: env.TELEGRAM_WEBHOOK_SECRET === undefined,
    adminToken: env.TELEGRAM_ADMIN_TOKEN,
    maxConnections: env.TELEGRAM_MAX_CONNECTIONS,
    allowedUpdates: parseAllowedUpdates(env.TELEGRAM_ALLOWED_UPDATES),
    handlerBudgetMs: env.TELEGRAM_HANDLER_BUDGET_MS,
    maxBacklog: env.TELEGRAM_MAX_BACKLOG,
    miniAppUrl,
    apiRoot,
    deleteWebhookForPolling: env.TELEGRAM_DELETE_WEBHOOK_FOR_POLLING,
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
    port: env.PORT,
    host: env.HOST,
    httpMaxConnections: env.HTTP_MAX_CONNECTIONS,
    logLevel: env.LOG_LEVEL,
    durable: durableConfig(env)
  }
}

/** The secrets no log line may contain, including the forms they take inside URLs. */
export function secretsOf (config: Config): string[] {
  const token = config.botToken
  const secrets = [token, token.slice(token.indexOf(':') + 1), encodeURIComponent(token), config.webhookSecret]
  if (config.adminToken !== undefined) secrets.push(config.adminToken)
  if (config.durable !== undefined) {
    // The URL carries the database password, itself and percent-encoded.
    const password = new URL(config.durable.databaseUrl).password
    secrets.push(config.durable.databaseUrl, password, decodeURIComponent(password))
  }
  return [...new Set(secrets.filter((s) => s.length >= 8))]
}
