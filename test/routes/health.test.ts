import t from 'tap'
import { API_SILENCE_MS, MAX_API_SOCKETS } from '../../src/bot/index.js'
import { buildTestApp, WEBHOOK_URL } from '../helpers/app.js'
import { within } from '../helpers/wait.js'

t.test('200 with Telegram\'s WebhookInfo when the webhook is the configured URL', async (t) => {
  const { app, api } = await buildTestApp(t)
  api.presetWebhook({ url: WEBHOOK_URL, max_connections: 100 })
  const res = await app.inject({ method: 'GET', url: '/telegram/webhook-info' })
  t.equal(res.statusCode, 200)
  t.match(res.json(), { ok: true, mode: 'webhook', verdict: 'ok', expectedUrl: WEBHOOK_URL, info: { url: WEBHOOK_URL, pending_update_count: 0, max_connections: 100 }, warnings: [] })
})

t.test('the bot\'s Bot API connections: counted and bounded for an https root; said to be uncounted for http', async (t) => {
  const { app } = await buildTestApp(t)
  const http = await app.inject({ method: 'GET', url: '/telegram/webhook-info' })
  t.same(http.json().bot_api, { open_sockets: null, max_sockets: null, silence_timeout_ms: null }, 'the emulator is http: Telegraf uses no agent there')
  const { app: tls } = await buildTestApp(t, { TELEGRAM_API_ROOT: 'https://127.0.0.1:9' })
  const https = await tls.inject({ method: 'GET', url: '/telegram/webhook-info' })
  t.match(https.json().bot_api, { open_sockets: Number, max_sockets: MAX_API_SOCKETS, silence_timeout_ms: API_SILENCE_MS })
})

t.test('503 with the reason when no webhook is set, or a different one', async (t) => {
  const { app, api } = await buildTestApp(t, {}, { webhookInfo: { ttlMs: 0 } })
  const missing = await app.inject({ method: 'GET', url: '/telegram/webhook-info' })
  t.equal(missing.statusCode, 503)
  t.match(missing.json(), { ok: false, verdict: 'missing', reason: /No webhook is set/ })
  api.presetWebhook({ url: 'https://elsewhere.example.com/telegram/webhook' })
  const other = await app.inject({ method: 'GET', url: '/telegram/webhook-info' })
  t.equal(other.statusCode, 503)
  t.match(other.json(), { ok: false, verdict: 'mismatch', reason: /elsewhere\.example\.com/ })
})

t.test('503 saying why when Telegram cannot be reached', async (t) => {
  const { app, api } = await buildTestApp(t)
  api.on('getWebhookInfo', () => 'drop')
  const res = await app.inject({ method: 'GET', url: '/telegram/webhook-info' })
  t.equal(res.statusCode, 503)
  t.match(res.json(), { ok: false, verdict: 'unreachable', reason: /Telegram could not be reached/ })
})

t.test('503 within the timeout when Telegram hangs, and the next probe asks again', async (t) => {
  const { app, api } = await buildTestApp(t, {}, { webhookInfo: { ttlMs: 0, timeoutMs: 100 } })
  api.on('getWebhookInfo', () => new Promise(() => {})) // accepts the request, never answers
  const started = performance.now()
  const res = await within(5000, app.inject({ method: 'GET', url: '/telegram/webhook-info' }))
  if (res === 'still waiting') throw new Error('the probe is still waiting after 5 s')
  t.equal(res.statusCode, 503)
  t.match(res.json(), { ok: false, verdict: 'unreachable', reason: 'Telegram did not answer getWebhookInfo within 100 ms' })
  t.ok(performance.now() - started >= 99, 'it waited for the timeout (timers may fire up to 1 ms early)')
  api.presetWebhook({ url: WEBHOOK_URL, max_connections: 100 })
  api.off('getWebhookInfo')
  const next = await app.inject({ method: 'GET', url: '/telegram/webhook-info' })
  t.equal(next.statusCode, 200, 'the next probe asks again and gets the answer')
})

t.test('warnings: drifted max_connections, a recent delivery error, a 401 hinting at the secret, pending updates', async (t) => {
  const { app, api } = await buildTestApp(t)
  api.presetWebhook({ url: WEBHOOK_URL, max_connections: 40, last_error_date: Math.floor(Date.now() / 1000) - 60, last_error_message: 'Wrong response from the webhook: 401 Unauthorized' })
  for (const text of ['one', 'two', 'three']) api.control.injectText(text) // pending: nothing is delivered to a preset webhook
  const res = await app.inject({ method: 'GET', url: '/telegram/webhook-info' })
  t.equal(res.statusCode, 200)
  const { warnings } = res.json() as { warnings: string[] }
  t.match(warnings, [/max_connections is 40, not 100/, /delivery failed at .*401 Unauthorized/, /secret_token at Telegram differs/, /3 updates are waiting/])
})

t.test('30 probes at once and a probe per request cost one getWebhookInfo per TTL', async (t) => {
  const { app, api } = await buildTestApp(t, {}, { webhookInfo: { ttlMs: 60_000 } })
  api.presetWebhook({ url: WEBHOOK_URL, max_connections: 100 })
  api.on('getWebhookInfo', async () => {
    await new Promise((resolve) => setTimeout(resolve, 50))
    return undefined // then the emulator's own answer
  })
  const burst = await Promise.all(Array.from({ length: 30 }, async () => await app.inject({ method: 'GET', url: '/telegram/webhook-info' })))
  t.ok(burst.every((r) => r.statusCode === 200))
  for (let i = 0; i < 10; i++) await app.inject({ method: 'GET', url: '/telegram/webhook-info' })
  t.equal(api.callsOf('getWebhookInfo').length, 1)
})

t.test('set-webhook invalidates the cached answer', async (t) => {
  const { app, api } = await buildTestApp(t, {}, { webhookInfo: { ttlMs: 60_000 } })
  await app.inject({ method: 'GET', url: '/telegram/webhook-info' })
  t.equal(api.callsOf('getWebhookInfo').length, 1)
  const set = await app.inject({ method: 'POST', url: '/telegram/set-webhook', headers: { authorization: `Bearer ${app.config.adminToken ?? ''}` } })
  t.equal(set.statusCode, 200)
  const after = await app.inject({ method: 'GET', url: '/telegram/webhook-info' })
  t.equal(api.callsOf('getWebhookInfo').length, 2, 'asked again after set-webhook')
  t.equal(after.statusCode, 200, 'and now sees the webhook it set')
})

t.test('polling mode reports polling (503 until the poller runs)', async (t) => {
  const { app, api } = await buildTestApp(t, { TELEGRAM_USE_WEBHOOK: 'false' })
  const res = await app.inject({ method: 'GET', url: '/telegram/webhook-info' })
  t.equal(res.statusCode, 503)
  t.match(res.json(), { mode: 'polling', verdict: 'polling', ok: false })
  api.on('getUpdates', async () => await new Promise((resolve) => setTimeout(() => resolve({ result: [] }), 20)))
  app.poller?.start().catch(() => {})
  t.teardown(() => app.poller?.stop())
  const running = await app.inject({ method: 'GET', url: '/telegram/webhook-info' })
  t.equal(running.statusCode, 200)
  t.match(running.json(), { mode: 'polling', verdict: 'polling', ok: true })
})
