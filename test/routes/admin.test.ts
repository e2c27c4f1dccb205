import t from 'tap'
import { ADMIN_TOKEN, buildTestApp, SECRET, WEBHOOK_URL } from '../helpers/app.js'
import type { FastifyInstance } from 'fastify'
import { ADMIN_CALLS_PER_MINUTE } from '../../src/routes/admin.js'
import { FAKE_TOKEN } from '../helpers/bot-api.js'
import { waitUntil } from '../helpers/wait.js'

const auth = { authorization: `Bearer ${ADMIN_TOKEN}` }

async function admin (app: FastifyInstance, url: string, body?: unknown, headers: Record<string, string> = auth) {
  return await app.inject({
    method: 'POST',
    url,
    headers: { ...headers, ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { payload: JSON.stringify(body) })
  })
}

t.test('set-webhook with no body uses the configuration and always sends the secret', async (t) => {
  // Not the defaults (100, Telegram's own list), so a hard-coded value could not pass.
  const { app, api } = await buildTestApp(t, { TELEGRAM_MAX_CONNECTIONS: '40', TELEGRAM_ALLOWED_UPDATES: 'message,callback_query' })
  const res = await admin(app, '/telegram/set-webhook')
  t.equal(res.statusCode, 200)
  t.match(res.json(), { ok: true, message: 'Webhook set successfully', url: WEBHOOK_URL, maxConnections: 40 })
  const [call] = api.callsOf('setWebhook')
  t.match(call?.params, { url: WEBHOOK_URL, secret_token: SECRET, max_connections: 40, drop_pending_updates: false })
  t.same(call?.params.allowed_updates, ['message', 'callback_query'])
})

t.test('set-webhook takes url, max_connections, drop_pending_updates and allowed_updates from the body', async (t) => {
  const { app, api } = await buildTestApp(t)
  const url = 'https://other.example.com/api/telegram/webhook'
  const res = await admin(app, '/telegram/set-webhook', { url, max_connections: 40, drop_pending_updates: true, allowed_updates: ['message'] })
  t.equal(res.statusCode, 200)
  t.match(res.json(), { ok: true, url, maxConnections: 40, dropPendingUpdates: true, allowedUpdates: ['message'] })
  t.match(api.callsOf('setWebhook')[0]?.params, { url, max_connections: 40, drop_pending_updates: true, allowed_updates: ['message'], secret_token: SECRET })
})

t.test('invalid set-webhook bodies are 400 and Telegram is not called', async (t) => {
  const { app, api } = await buildTestApp(t)
  const cases: Array<[unknown, RegExp]> = [
    [{ url: 'ftp://bot.example.com/telegram/webhook' }, /url must start with https:\/\/ or http:\/\//],
    [{ url: 'https://bot.example.com/hook' }, /url path must end in \/telegram\/webhook/],
    [{ url: 42 }, /url must be a string/],
    [{ max_connections: 0 }, /max_connections must be an integer from 1 to 100/],
    [{ max_connections: 101 }, /max_connections/],
    [{ max_connections: '50' }, /max_connections/],
    [{ drop_pending_updates: 'yes' }, /drop_pending_updates must be true or false/],
    [{ allowed_updates: 'message' }, /allowed_updates must be an array/],
    [{ secret_token: 'mine' }, /Unknown field "secret_token"/],
    [[1, 2], /Body must be a JSON object/]
  ]
  for (const [body, message] of cases) {
    const res = await admin(app, '/telegram/set-webhook', body)
    t.equal(res.statusCode, 400, JSON.stringify(body))
    t.match(res.json(), { statusCode: 400, error: 'Bad Request', message }, JSON.stringify(body))
  }
  t.equal(api.callsOf('setWebhook').length, 0)
})

t.test('admin routes: 401 without or with a wrong bearer, never reaching Telegram', async (t) => {
  const { app, api, logs } = await buildTestApp(t)
  for (const url of ['/telegram/set-webhook', '/telegram/delete-webhook']) {
    const none = await admin(app, url, {}, {})
    t.equal(none.statusCode, 401, url)
    t.match(none.headers['www-authenticate'], /^Bearer/)
    t.match(none.json(), { message: /Missing "Authorization: Bearer/ })
    const wrong = await admin(app, url, {}, { authorization: `Bearer ${ADMIN_TOKEN}x` })
    t.equal(wrong.statusCode, 401, url)
    t.match(wrong.json(), { message: 'Wrong admin token' })
    const basic = await admin(app, url, {}, { authorization: `Basic ${ADMIN_TOKEN}` })
    t.equal(basic.statusCode, 401, url)
  }
  t.equal(api.callsOf('setWebhook').length + api.callsOf('deleteWebhook').length, 0)
  t.notOk(logs.text.includes(ADMIN_TOKEN), 'the admin token is never logged')
})

t.test('admin routes answer 403 saying how to enable them when TELEGRAM_ADMIN_TOKEN is unset', async (t) => {
  const { app, api } = await buildTestApp(t, { TELEGRAM_ADMIN_TOKEN: undefined })
  for (const url of ['/telegram/set-webhook', '/telegram/delete-webhook']) {
    const res = await admin(app, url, {}, { authorization: 'Bearer anything-at-all-0000' })
    t.equal(res.statusCode, 403)
    t.match(res.json(), { message: /set TELEGRAM_ADMIN_TOKEN/ })
  }
  t.equal(api.calls.length, 0)
})

t.test('delete-webhook passes drop_pending_updates and validates its body', async (t) => {
  const { app, api } = await buildTestApp(t)
  const res = await admin(app, '/telegram/delete-webhook', { drop_pending_updates: true })
  t.equal(res.statusCode, 200)
  t.match(res.json(), { ok: true, dropPendingUpdates: true })
  t.match(api.callsOf('deleteWebhook')[0]?.params, { drop_pending_updates: true })
  const bad = await admin(app, '/telegram/delete-webhook', { drop: true })
  t.equal(bad.statusCode, 400)
  t.match(bad.json(), { message: /Unknown field "drop"/ })
})

t.test('Telegram\'s failures map to clear answers: 400 for its 4xx, 429 with Retry-After, 502 when unreachable', async (t) => {
  const { app, api } = await buildTestApp(t)
  api.on('setWebhook', () => ({ error_code: 400, description: 'Bad Request: bad webhook: Failed to resolve host: Name or service not known' }))
  const rejected = await admin(app, '/telegram/set-webhook')
  t.equal(rejected.statusCode, 400)
  t.match(rejected.json(), { message: /Telegram rejected setWebhook: .*Failed to resolve host/ })

  api.on('setWebhook', () => ({ error_code: 429, description: 'Too Many Requests: retry after 1', parameters: { retry_after: 1 } }))
  const limited = await admin(app, '/telegram/set-webhook')
  t.equal(limited.statusCode, 429)
  t.equal(limited.headers['retry-after'], '1')

  api.on('setWebhook', () => 'drop')
  const unreachable = await admin(app, '/telegram/set-webhook')
  t.equal(unreachable.statusCode, 502)
  t.match(unreachable.json(), { message: /setWebhook failed: Telegram could not be reached/ })
  t.notOk(unreachable.body.includes(FAKE_TOKEN.split(':')[1] ?? 'never'), 'the token is not in the body')
})

t.test('set-webhook is refused with 409 in polling mode', async (t) => {
  const { app, api } = await buildTestApp(t, { TELEGRAM_USE_WEBHOOK: 'false' })
  const res = await admin(app, '/telegram/set-webhook')
  t.equal(res.statusCode, 409)
  t.match(res.json(), { message: /polls/ })
  t.equal(api.callsOf('setWebhook').length, 0)
})

t.test('other methods on admin routes are 405', async (t) => {
  const { app } = await buildTestApp(t)
  const res = await app.inject({ method: 'GET', url: '/telegram/set-webhook' })
  t.equal(res.statusCode, 405)
  t.equal(res.headers.allow, 'POST')
})

t.test(`guessing the admin token: ${ADMIN_CALLS_PER_MINUTE} tries a minute per client address, then 429 with Retry-After`, async (t) => {
  const { app, api, logs } = await buildTestApp(t, {}, { warningIntervalMs: 200 })
  const guess = async (i: number, remoteAddress: string, forwarded?: string) => await app.inject({
    method: 'POST',
    url: '/telegram/set-webhook',
    headers: { authorization: `Bearer guess-${i}-0000000000000000`, ...(forwarded !== undefined && { 'x-forwarded-for': forwarded }) },
    remoteAddress
  })
  const statuses: number[] = []
  for (let i = 0; i < ADMIN_CALLS_PER_MINUTE + 5; i++) statuses.push((await guess(i, '203.0.113.9')).statusCode)
  t.same(statuses, [...Array(ADMIN_CALLS_PER_MINUTE).fill(401), ...Array(5).fill(429)])
  const limited = await guess(99, '203.0.113.9')
  t.equal(limited.statusCode, 429)
  t.match(limited.json(), { statusCode: 429, error: 'Too Many Requests', message: new RegExp(`at most ${ADMIN_CALLS_PER_MINUTE} a minute; retry in \\d+ s`) })
  t.ok(Number(limited.headers['retry-after']) > 0, 'Retry-After says when')
  t.equal((await app.inject({ method: 'POST', url: '/telegram/set-webhook', headers: auth, remoteAddress: '203.0.113.9' })).statusCode, 429, 'the right token too, from that address, until the minute is over')

  t.equal((await guess(0, '198.51.100.1')).statusCode, 401, 'another address has its own count')
  // Behind Caddy (loopback) each forwarded client has its own count, not Caddy's address as a whole.
  for (let i = 0; i < ADMIN_CALLS_PER_MINUTE; i++) await guess(i, '127.0.0.1', '192.0.2.1')
  t.equal((await guess(0, '127.0.0.1', '192.0.2.1')).statusCode, 429)
  t.equal((await guess(0, '127.0.0.1', '192.0.2.2')).statusCode, 401)
  t.equal(api.callsOf('setWebhook').length, 0, 'nothing reached Telegram')

  await waitUntil(() => logs.find('wrong token').length === 2, 2000, () => 'the interval\'s count')
  const lines = logs.find('wrong token')
  t.match(lines, [{ level: 40, ip: '203.0.113.9' }, { level: 40, repeated: Number }], 'one line at once, one with the count: not one per guess')
  t.ok(Number(lines[1]?.repeated) >= ADMIN_CALLS_PER_MINUTE, 'the count covers the guesses')
  t.notOk(logs.text.includes('guess-'), 'no guessed token in the log')
})
