import t, { type Test } from 'tap'
import { buildApp } from '../src/app.js'
import { ConfigError, deriveWebhookSecret, loadConfig, SECRET_TOKEN_PATTERN, secretsOf } from '../src/config.js'
import { FAKE_TOKEN } from './helpers/bot-api.js'
import { LogCapture } from './helpers/log-capture.js'

const valid = {
  TELEGRAM_BOT_TOKEN: FAKE_TOKEN,
  TELEGRAM_WEBHOOK_URL: 'https://bot.example.com/api/telegram/webhook'
}

async function configOf (env: Record<string, string | undefined>) {
  const app = await buildApp({ env, logStream: new LogCapture() })
  const config = app.config
  await app.close()
  return config
}

async function rejects (t: Test, env: Record<string, string | undefined>, variable: string, rule: RegExp): Promise<void> {
  const err = await buildApp({ env, logStream: new LogCapture() }).then(async (app) => { await app.close(); return undefined }, (e: unknown) => e)
  t.type(err, ConfigError, `${variable} is refused`)
  t.equal((err as ConfigError).variable, variable)
  t.match((err as Error).message, rule)
  t.notOk((err as Error).message.includes(FAKE_TOKEN), 'the message never carries the token')
}

t.test('defaults: webhook mode, 100 connections, 5 s budget, port 3000, official API root', async (t) => {
  const config = await configOf(valid)
  t.match(config, {
    useWebhook: true,
    maxConnections: 100,
    handlerBudgetMs: 5000,
    port: 3000,
    host: '0.0.0.0',
    logLevel: 'info',
    apiRoot: 'https://api.telegram.org',
    allowedUpdates: undefined,
    adminToken: undefined,
    webhookSecretDerived: true
  })
})

t.test('the derived secret is stable per token, differs between tokens, and fits Telegram\'s charset', async (t) => {
  const a = await configOf(valid)
  const b = await configOf(valid)
  const other = await configOf({ ...valid, TELEGRAM_BOT_TOKEN: '987654321:OTHER-fake-token_for_tests_only_0000' })
  t.equal(a.webhookSecret, b.webhookSecret)
  t.equal(a.webhookSecret, deriveWebhookSecret(FAKE_TOKEN))
  t.not(a.webhookSecret, other.webhookSecret)
  t.match(a.webhookSecret, new RegExp(SECRET_TOKEN_PATTERN))
  t.notOk(a.webhookSecret.includes(FAKE_TOKEN.split(':')[1] ?? 'x'), 'the secret does not reveal the token')
})

t.test('a configured secret is used as is', async (t) => {
  const config = await configOf({ ...valid, TELEGRAM_WEBHOOK_SECRET: 'my_secret-1' })
  t.equal(config.webhookSecret, 'my_secret-1')
  t.equal(config.webhookSecretDerived, false)
})

t.test('values are coerced and empty strings count as unset', async (t) => {
  const config = await configOf({
    ...valid,
    TELEGRAM_MAX_CONNECTIONS: '40',
    TELEGRAM_HANDLER_BUDGET_MS: '0',
    TELEGRAM_MAX_BACKLOG: '500',
    TELEGRAM_ALLOWED_UPDATES: 'message, callback_query,message',
    TELEGRAM_WEBHOOK_SECRET: '',
    TELEGRAM_MINI_APP_URL: '',
    PORT: '8080'
  })
  t.equal(config.maxConnections, 40)
  t.equal(config.handlerBudgetMs, 0)
  t.equal(config.maxBacklog, 500)
  t.same(config.allowedUpdates, ['message', 'callback_query'])
  t.equal(config.webhookSecretDerived, true)
  t.equal(config.miniAppUrl, undefined)
  t.equal(config.port, 8080)
})

t.test('polling mode needs no webhook URL', async (t) => {
  const config = await configOf({ TELEGRAM_BOT_TOKEN: FAKE_TOKEN, TELEGRAM_USE_WEBHOOK: 'false' })
  t.equal(config.useWebhook, false)
  t.equal(config.webhookUrl, undefined)
})

t.test('a local Bot API server (custom API root) accepts an http:// webhook on any port', async (t) => {
  const config = await configOf({ ...valid, TELEGRAM_API_ROOT: 'http://127.0.0.1:8081', TELEGRAM_WEBHOOK_URL: 'http://127.0.0.1:3000/telegram/webhook' })
  t.equal(config.webhookUrl, 'http://127.0.0.1:3000/telegram/webhook')
  t.equal(config.apiRoot, 'http://127.0.0.1:8081')
})

t.test('every invalid value is refused with the variable and the rule', async (t) => {
  await rejects(t, {}, 'TELEGRAM_BOT_TOKEN', /is required/)
  await rejects(t, { ...valid, TELEGRAM_BOT_TOKEN: 'not-a-token' }, 'TELEGRAM_BOT_TOKEN', /must look like 123456789:/)
  await rejects(t, { TELEGRAM_BOT_TOKEN: FAKE_TOKEN }, 'TELEGRAM_WEBHOOK_URL', /is required in webhook mode/)
  await rejects(t, { ...valid, TELEGRAM_WEBHOOK_URL: 'http://bot.example.com/telegram/webhook' }, 'TELEGRAM_WEBHOOK_URL', /must start with https:\/\//)
  await rejects(t, { ...valid, TELEGRAM_WEBHOOK_URL: 'https://bot.example.com/api/webhook' }, 'TELEGRAM_WEBHOOK_URL', /path must end in \/telegram\/webhook/)
  // A guide may put the secret in the path: the error line (printed at start-up) does not repeat it.
  await rejects(t, { ...valid, TELEGRAM_WEBHOOK_URL: 'https://bot.example.com/hook/s3cret-path-token-123' }, 'TELEGRAM_WEBHOOK_URL', /^(?!.*s3cret-path-token-123).*path must end in \/telegram\/webhook/)
  await rejects(t, { ...valid, TELEGRAM_WEBHOOK_URL: 'https://bot.example.com:8080/telegram/webhook' }, 'TELEGRAM_WEBHOOK_URL', /port 443, 80, 88 or 8443/)
  await rejects(t, { ...valid, TELEGRAM_WEBHOOK_URL: 'bot.example.com/telegram/webhook' }, 'TELEGRAM_WEBHOOK_URL', /absolute URL/)
  await rejects(t, { ...valid, TELEGRAM_USE_WEBHOOK: 'maybe' }, 'TELEGRAM_USE_WEBHOOK', /boolean/)
  await rejects(t, { ...valid, TELEGRAM_MAX_CONNECTIONS: '0' }, 'TELEGRAM_MAX_CONNECTIONS', />= 1/)
  await rejects(t, { ...valid, TELEGRAM_MAX_CONNECTIONS: '101' }, 'TELEGRAM_MAX_CONNECTIONS', /<= 100/)
  await rejects(t, { ...valid, TELEGRAM_MAX_CONNECTIONS: 'many' }, 'TELEGRAM_MAX_CONNECTIONS', /integer/)
  await rejects(t, { ...valid, TELEGRAM_HANDLER_BUDGET_MS: '60000' }, 'TELEGRAM_HANDLER_BUDGET_MS', /<= 59999/)
  await rejects(t, { ...valid, TELEGRAM_HANDLER_BUDGET_MS: '-1' }, 'TELEGRAM_HANDLER_BUDGET_MS', />= 0/)
  await rejects(t, { ...valid, TELEGRAM_MAX_BACKLOG: '0' }, 'TELEGRAM_MAX_BACKLOG', />= 1/)
  await rejects(t, { ...valid, TELEGRAM_WEBHOOK_SECRET: 'has space' }, 'TELEGRAM_WEBHOOK_SECRET', /1-256 characters of A-Z a-z 0-9 _ -/)
  await rejects(t, { ...valid, TELEGRAM_WEBHOOK_SECRET: 'x'.repeat(257) }, 'TELEGRAM_WEBHOOK_SECRET', /1-256 characters/)
  await rejects(t, { ...valid, TELEGRAM_ADMIN_TOKEN: 'short' }, 'TELEGRAM_ADMIN_TOKEN', /fewer than 16 characters/)
  await rejects(t, { ...valid, TELEGRAM_MINI_APP_URL: 'http://app.example.com' }, 'TELEGRAM_MINI_APP_URL', /https:\/\//)
  await rejects(t, { ...valid, TELEGRAM_ALLOWED_UPDATES: 'message,Callback Query' }, 'TELEGRAM_ALLOWED_UPDATES', /"Callback Query"/)
  await rejects(t, { ...valid, TELEGRAM_API_ROOT: 'ftp://example.com' }, 'TELEGRAM_API_ROOT', /http:\/\/ or https:\/\//)
  await rejects(t, { ...valid, PORT: '70000' }, 'PORT', /<= 65535/)
  await rejects(t, { ...valid, LOG_LEVEL: 'loud' }, 'LOG_LEVEL', /allowed values/)
})

t.test('durable mode: DATABASE_URL and its settings, checked like the rest; its password is a secret', async (t) => {
  t.equal((await configOf(valid)).durable, undefined, 'no DATABASE_URL: the in-process mode')
  const url = 'postgres://ingress:pa%24%24-word-1234@db.internal:5432/ingress'
  const config = await configOf({ ...valid, DATABASE_URL: url, WORKER_CONCURRENCY: '4', TELEGRAM_RUN_WORKER: 'false' })
  t.same(config.durable, { databaseUrl: url, runWorker: false, workerConcurrency: 4, workerLostAfterMs: 60_000, handlerMaxAttempts: 5, retentionHours: 48 })
  t.ok(secretsOf(config).includes('pa$$-word-1234') && secretsOf(config).includes('pa%24%24-word-1234') && secretsOf(config).includes(url), 'the password, raw and encoded, and the URL are scrubbed')

  await rejects(t, { ...valid, DATABASE_URL: 'mysql://x@y/z' }, 'DATABASE_URL', /must start with postgres:\/\//)
  await rejects(t, { ...valid, DATABASE_URL: 'postgres://a b' }, 'DATABASE_URL', /must be a URL/)
  await rejects(t, { ...valid, TELEGRAM_UPDATE_RETENTION_HOURS: '24' }, 'TELEGRAM_UPDATE_RETENTION_HOURS', />= 48/)
  await rejects(t, { ...valid, WORKER_CONCURRENCY: '0' }, 'WORKER_CONCURRENCY', />= 1/)
  await rejects(t, { ...valid, TELEGRAM_HANDLER_MAX_ATTEMPTS: '26' }, 'TELEGRAM_HANDLER_MAX_ATTEMPTS', /<= 25/)

  // The worker process reads the same schema without Fastify, and needs no webhook URL.
  t.equal(loadConfig({ TELEGRAM_BOT_TOKEN: FAKE_TOKEN, DATABASE_URL: url }, 'worker').durable?.databaseUrl, url)
  t.throws(() => loadConfig({ TELEGRAM_BOT_TOKEN: FAKE_TOKEN, DATABASE_URL: 'x' }, 'worker'), new ConfigError('DATABASE_URL', 'must start with postgres:// or postgresql://, e.g. postgres://USER:PASSWORD@HOST:5432/DATABASE'))
  t.throws(() => loadConfig({ TELEGRAM_BOT_TOKEN: FAKE_TOKEN }, 'server'), ConfigError)
})

t.test('a log line with the database password is scrubbed', async (t) => {
  const logs = new LogCapture()
  const url = 'postgres://ingress:db-password-for-tests-77@127.0.0.1:1/ingress'
  const app = await buildApp({ env: { ...valid, DATABASE_URL: url }, logStream: logs })
  app.log.error({ err: new Error(`connect failed for ${url}`) }, 'password db-password-for-tests-77 seen')
  await app.close()
  t.notOk(logs.text.includes('db-password-for-tests-77'), 'never in a log line')
  t.ok(logs.text.includes('[redacted]'), 'replaced by the redaction mark')
})
