import t from 'tap'
import type { BotFeature } from '../../src/bot/index.js'
import type { UpdateDedupe } from '../../src/ingress/dedupe.js'
import { refusal } from '../../src/routes/http-errors.js'
import { ADMIN_TOKEN, buildTestApp, postUpdate, SECRET, textUpdate, voiceUpdate } from '../helpers/app.js'
import { FAKE_TOKEN } from '../helpers/bot-api.js'
import { waitUntil, within } from '../helpers/wait.js'

t.test('a signed update is handled by the bot and acked 200 with an empty body', async (t) => {
  const { app, api } = await buildTestApp(t)
  const res = await postUpdate(app, textUpdate('/start', 77))
  t.equal(res.statusCode, 200)
  t.equal(res.body, '')
  const sent = api.callsOf('sendMessage')
  t.equal(sent.length, 1, 'the /start handler replied once')
  t.equal(sent[0]?.params.chat_id, 77)
  t.match(String(sent[0]?.params.text), /^Welcome, Ada!/)
})

t.test('a missing or wrong secret is 401 and never reaches the bot; the warnings are one line per interval', async (t) => {
  const { app, api, logs } = await buildTestApp(t, {}, { warningIntervalMs: 200 })
  const missing = await postUpdate(app, textUpdate('/start'), null)
  t.equal(missing.statusCode, 401)
  t.match(missing.json(), { statusCode: 401, error: 'Unauthorized', message: /Missing X-Telegram-Bot-Api-Secret-Token/ })
  const wrong = await postUpdate(app, textUpdate('/start'), SECRET.slice(0, -1) + 'X')
  t.equal(wrong.statusCode, 401)
  t.match(wrong.json(), { message: /Wrong X-Telegram-Bot-Api-Secret-Token/ })
  const shorter = await postUpdate(app, textUpdate('/start'), 'x')
  t.equal(shorter.statusCode, 401)
  t.equal(api.callsOf('sendMessage').length, 0)
  t.equal(app.ingress.stats.accepted, 0)
  const first = logs.find('wrong secret')
  t.equal(first.length, 1, 'the first at once, the two after it counted')
  t.match(first[0], { level: 40, ip: '127.0.0.1', has_header: false, reqId: /^req-/ }, 'the line names the peer, whether a header came, and the request')
  await waitUntil(() => logs.find('wrong secret').length === 2, 2000, () => 'the interval\'s count')
  t.match(logs.find('wrong secret')[1], { level: 40, repeated: 2, has_header: true, msg: /2 more within/ })
  t.notOk(logs.text.includes(SECRET.slice(0, -1)), 'no line carries the secret (or the wrong one sent)')
})

t.test('a flood of wrong secrets is one warning line per interval, with the count', async (t) => {
  const { app, logs } = await buildTestApp(t, {}, { warningIntervalMs: 300 })
  const started = Date.now()
  for (let i = 0; i < 200; i++) t.equal((await postUpdate(app, textUpdate('/start'), 'guess-' + String(i))).statusCode, 401)
  await waitUntil(() => logs.find('wrong secret').length >= 2, 3000, () => 'the count line')
  const lines = logs.find('wrong secret')
  // One line at the first guess, then one per interval that had any: however slow the machine.
  const intervals = Math.ceil((Date.now() - started) / 300) + 1
  t.ok(lines.length <= 1 + intervals, `200 guesses, ${lines.length} lines over ${intervals} intervals`)
  t.equal(1 + lines.slice(1).reduce((n, l) => n + Number(l.repeated), 0), 200, 'every guess counted')
})

t.test('the secret is checked before the body is read: an unsigned huge or non-JSON body is still 401', async (t) => {
  const { app } = await buildTestApp(t)
  const res = await app.inject({ method: 'POST', url: '/telegram/webhook', headers: { 'content-type': 'text/plain' }, payload: 'x'.repeat(2 * 1024 * 1024) })
  t.equal(res.statusCode, 401)
})

t.test('non-JSON bodies are 415 naming the content type', async (t) => {
  const { app, api } = await buildTestApp(t)
  for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) {
    const res = await app.inject({ method: 'POST', url: '/telegram/webhook', headers: { 'content-type': type, 'x-telegram-bot-api-secret-token': SECRET }, payload: 'update_id=1' })
    t.equal(res.statusCode, 415, type)
    t.match(res.json(), { message: `Content-Type must be application/json (got ${type})` })
  }
  t.equal(api.callsOf('sendMessage').length, 0)
})

t.test('bodies that are not an Update are 400 with the rule', async (t) => {
  const { app, api } = await buildTestApp(t)
  const bad: Array<[string, string]> = [
    ['[]', 'an array'],
    ['"text"', 'a string'],
    ['{}', 'no update_id'],
    ['{"update_id":-1}', 'a negative id'],
    ['{"update_id":1.5}', 'a fraction'],
    ['{"update_id":"7"}', 'a string id'],
    ['null', 'null']
  ]
  for (const [payload, what] of bad) {
    const res = await app.inject({ method: 'POST', url: '/telegram/webhook', headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': SECRET }, payload })
    t.equal(res.statusCode, 400, what)
    t.match(res.json(), { message: /update_id|JSON/ }, what)
  }
  const broken = await app.inject({ method: 'POST', url: '/telegram/webhook', headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': SECRET }, payload: '{"update_id": 1,' })
  t.equal(broken.statusCode, 400)
  t.match(broken.json(), { message: /not valid JSON/ })
  const empty = await app.inject({ method: 'POST', url: '/telegram/webhook', headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': SECRET } })
  t.equal(empty.statusCode, 400)
  t.equal(api.callsOf('sendMessage').length, 0)
  t.equal(app.ingress.stats.accepted, 0)
})

// Fastify 5 answers every refused JSON body with one sentence ("Body is not valid JSON"), even valid
// JSON that has a __proto__ key; the answer says which it was.
t.test('a refused JSON body is 400 naming why: the parser\'s reason, or the __proto__ / constructor.prototype key', async (t) => {
  const { app } = await buildTestApp(t)
  const post = async (payload: string): Promise<{ statusCode: number, message: string }> => {
    const res = await app.inject({ method: 'POST', url: '/telegram/webhook', headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': SECRET }, payload })
    return { statusCode: res.statusCode, message: res.statusCode === 200 ? '' : (res.json() as { message: string }).message }
  }
  t.same(await post('{"update_id": 1,'), { statusCode: 400, message: 'Body is not valid JSON: Expected double-quoted property name in JSON at position 16' })
  for (const payload of ['{"update_id":1,"__proto__":{"admin":true}}', '{"update_id":1,"message":{"\\u005f_proto__":{}}}', '{"update_id":1,"message":{"constructor":{"prototype":{}}}}']) {
    t.same(await post(payload), { statusCode: 400, message: refusal.prototypeKey }, payload)
  }
  t.match(refusal.prototypeKey, /"__proto__" key or a "constructor" key holding "prototype"/)
  t.equal((await post('{"update_id":2,"message":{"constructor":{"name":"x"}}}')).statusCode, 200, 'a constructor key without prototype is just data')
  t.equal(app.ingress.stats.accepted, 1)
})

t.test('a body over 1 MiB is 413', async (t) => {
  const { app } = await buildTestApp(t)
  const update = { ...textUpdate('x'), padding: 'y'.repeat(1024 * 1024) }
  const res = await postUpdate(app, update)
  t.equal(res.statusCode, 413)
  t.match(res.json(), { message: /larger than 1048576 bytes/ })
  t.equal(app.ingress.stats.accepted, 0)
})

t.test('a 600 KiB update (over Telegram\'s 512 KiB, under our 1 MiB) is accepted', async (t) => {
  const { app } = await buildTestApp(t)
  const res = await postUpdate(app, { ...textUpdate('x'), padding: 'y'.repeat(600 * 1024) })
  t.equal(res.statusCode, 200)
})

t.test('other methods on the webhook are 405 with Allow: POST, before any auth or body check', async (t) => {
  const { app } = await buildTestApp(t)
  for (const method of ['GET', 'HEAD', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const) {
    const res = await app.inject({ method, url: '/telegram/webhook', headers: { 'content-type': 'application/xml' }, ...(method !== 'GET' && method !== 'HEAD' && { payload: '<x/>' }) })
    t.equal(res.statusCode, 405, method)
    t.equal(res.headers.allow, 'POST', method)
  }
  // Methods Fastify does not route by default still get 405 there, not 404.
  for (const method of ['PROPFIND', 'LOCK', 'PURGE', 'TRACE', 'QUERY']) {
    const res = await app.inject({ method: method as 'GET', url: '/telegram/webhook' })
    t.equal(res.statusCode, 405, method)
    t.equal(res.headers.allow, 'POST', method)
  }
  t.equal((await app.inject({ method: 'PROPFIND' as 'GET', url: '/telegram/other' })).statusCode, 404, 'elsewhere, an unknown path is still 404')
})

t.test('routes outside /telegram/* are 404', async (t) => {
  const { app } = await buildTestApp(t)
  for (const url of ['/', '/webhook', '/api/telegram/webhook', '/telegram', '/telegram/other']) {
    const res = await app.inject({ method: 'GET', url })
    t.equal(res.statusCode, 404, url)
  }
})

t.test('a redelivered update_id is acked 200 and not handled twice', async (t) => {
  const { app, api, logs } = await buildTestApp(t)
  const update = voiceUpdate(5, 555)
  t.equal((await postUpdate(app, update)).statusCode, 200)
  t.equal((await postUpdate(app, update)).statusCode, 200)
  t.equal((await postUpdate(app, update)).statusCode, 200)
  t.equal(api.callsOf('sendMessage').length, 1)
  t.equal(logs.find('Received voice from 5').length, 1)
  t.equal(app.ingress.stats.duplicates, 2)
})

t.test('TELEGRAM_MAX_BACKLOG: beyond it an update is answered only once a taken one finished', async (t) => {
  let open = (): void => {}
  const gate = new Promise<void>((resolve) => { open = resolve })
  const slow: BotFeature = (bot) => { bot.on('message', async () => { await gate }) }
  const { app } = await buildTestApp(t, { TELEGRAM_MAX_BACKLOG: '1', TELEGRAM_HANDLER_BUDGET_MS: '0' }, { features: [slow] })
  t.equal((await postUpdate(app, textUpdate('first', 1, 7001))).statusCode, 200, 'the first is acked at once (budget 0) and stays in the backlog')
  let second: number | undefined
  const secondDone = postUpdate(app, textUpdate('second', 2, 7002)).then((res) => { second = res.statusCode })
  t.equal(await within(200, secondDone), 'still waiting', 'the second waits: the backlog of 1 is full')
  t.equal(app.ingress.stats.waitingForRoom, 1)
  open()
  t.not(await within(5000, secondDone), 'still waiting')
  t.equal(second, 200, 'answered once the first finished')
  t.equal(app.ingress.stats.accepted, 2)
})

t.test('a handler that throws is logged with update_id and type, and acked 200', async (t) => {
  const boom: BotFeature = (bot) => { bot.on('message', () => { throw new Error('handler exploded') }) }
  const { app, logs } = await buildTestApp(t, {}, { features: [boom] })
  const res = await postUpdate(app, textUpdate('hello', 9, 9001))
  t.equal(res.statusCode, 200)
  const [entry] = logs.find('update handler failed')
  t.match(entry, { level: 50, update_id: 9001, type: 'message', err: { message: 'handler exploded' } })
  t.equal(app.ingress.stats.failed, 1)
})

t.test('a failing Bot API call inside a handler is logged without the token', async (t) => {
  const { app, api, logs } = await buildTestApp(t)
  api.on('sendMessage', () => 'drop')
  const res = await postUpdate(app, textUpdate('/start', 3, 9100))
  t.equal(res.statusCode, 200)
  t.equal(logs.find('update handler failed').length, 1)
  t.notOk(logs.text.includes(FAKE_TOKEN), 'the token is in no log line')
  t.notOk(logs.text.includes(FAKE_TOKEN.split(':')[1] ?? 'never'), 'nor its secret half')
  t.notOk(logs.text.includes(SECRET))
  t.notOk(logs.text.includes(ADMIN_TOKEN))
})

t.test('while shutting down, updates get 503 with Retry-After and are not claimed, so Telegram resends them', async (t) => {
  const { app, api } = await buildTestApp(t)
  app.ingress.close()
  const update = textUpdate('/start', 12, 9200)
  const res = await postUpdate(app, update)
  t.equal(res.statusCode, 503)
  t.equal(res.headers['retry-after'], '5')
  t.equal(res.headers.connection, 'close', 'no keep-alive to hold the shutdown open')
  t.match(res.json(), { message: /Shutting down/ })
  t.equal(api.callsOf('sendMessage').length, 0)
  t.equal(app.ingress.stats.accepted, 0)
})

t.test('a dedupe store that fails (throwing or rejecting) is 500, not a crash, and the update is not taken', async (t) => {
  for (const how of ['throws', 'rejects'] as const) {
    const failing: UpdateDedupe = {
      claim: () => {
        if (how === 'throws') throw new Error('dedupe store unavailable')
        return Promise.reject(new Error('dedupe store unavailable'))
      },
      release: () => {}
    }
    const { app, api, logs } = await buildTestApp(t, {}, { dedupe: failing })
    const res = await postUpdate(app, textUpdate('/start', 8, 9300))
    t.equal(res.statusCode, 500, how)
    t.match(res.json(), { message: 'Internal Server Error' }, `${how}: no internals in the answer`)
    t.match(logs.find('webhook request failed')[0], { level: 50, update_id: 9300, err: { message: 'dedupe store unavailable' } }, how)
    t.equal(api.callsOf('sendMessage').length, 0, how)
  }
})

t.test('while shutting down, every answer closes its connection: refusals, and the 200 of an update taken before', async (t) => {
  let release = (): void => {}
  const held = new Promise<void>((resolve) => { release = resolve })
  const hold: BotFeature = (bot) => { bot.on('message', async () => { await held }) }
  const { app } = await buildTestApp(t, {}, { features: [hold] })
  const taken = postUpdate(app, textUpdate('taken before', 13, 9400))
  await waitUntil(() => app.ingress.inFlight === 1, 2000, () => 'the update to be taken')
  app.ingress.close()
  for (const payload of ['{"update_id":', '{}']) {
    const res = await app.inject({ method: 'POST', url: '/telegram/webhook', headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': SECRET }, payload })
    t.equal(res.statusCode, 400, payload)
    t.equal(res.headers.connection, 'close', payload)
  }
  release()
  const ack = await taken
  t.equal(ack.statusCode, 200, 'the update taken before the close is handled and acked')
  t.equal(ack.headers.connection, 'close')
})

t.test('the wrong-secret line names the client as Fastify would: X-Forwarded-For only from a trusted proxy', async (t) => {
  const { app, logs } = await buildTestApp(t, {}, { warningIntervalMs: 50 })
  const headers = { 'content-type': 'application/json', 'x-forwarded-for': '198.51.100.7' }
  await app.inject({ method: 'POST', url: '/telegram/webhook', headers, payload: '{}', remoteAddress: '127.0.0.1' })
  await app.inject({ method: 'POST', url: '/telegram/webhook', headers, payload: '{}', remoteAddress: '203.0.113.9' })
  await waitUntil(() => logs.find('wrong secret').length === 2, 2000, () => 'the second line')
  const [viaCaddy, direct] = logs.find('wrong secret')
  t.match(viaCaddy, { ip: '198.51.100.7' }, 'behind the proxy on loopback: the forwarded client')
  t.match(direct, { ip: '203.0.113.9' }, 'from the internet: the peer itself, whatever it claims')
})
