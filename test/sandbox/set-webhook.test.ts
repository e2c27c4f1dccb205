// setWebhook, deleteWebhook and getWebhookInfo follow Telegram's rules and texts (TELEGRAM.md,
// "setWebhook / deleteWebhook / getWebhookInfo").
import t from 'tap'
import { TOKEN, callApi, emulatorFor, pause, receiverFor } from './helpers.js'

const PUBLIC_URL = 'https://bot.example.com/telegram/webhook'

t.test('the public server refuses http, odd ports and local addresses as "bad webhook"', async (t) => {
  const emulator = await emulatorFor(t, { local: false, timeScale: 0.001 })
  const cases: Array<[string, string]> = [
    ['http://bot.example.com/telegram/webhook', 'Bad Request: bad webhook: An HTTPS URL must be provided for webhook'],
    ['https://bot.example.com:3000/hook', 'Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443'],
    ['https://127.0.0.1/hook', 'Bad Request: bad webhook: IP address 127.0.0.1 is reserved'],
    ['https://exa mple.com/hook', 'Bad Request: invalid webhook URL specified']
  ]
  for (const [url, description] of cases) {
    await pause(5) // past the 1 call/s limit (scaled)
    const { status, body } = await callApi(emulator.url, 'setWebhook', { url })
    t.same([status, body], [400, { ok: false, error_code: 400, description }], url)
  }
})

t.test('the public server accepts https on 443/80/88/8443 and clamps max_connections to 1-100', async (t) => {
  const emulator = await emulatorFor(t, { local: false, timeScale: 0.001 })
  for (const [given, kept] of [[0, 1], [500, 100], [7, 7]] as const) {
    await pause(5)
    const set = await callApi(emulator.url, 'setWebhook', { url: `https://bot.example.com:8443/h${given}`, max_connections: given })
    t.same(set.body, { ok: true, result: true, description: 'Webhook was set' })
    const info = await callApi(emulator.url, 'getWebhookInfo')
    t.match(info.body.result, { url: `https://bot.example.com:8443/h${given}`, max_connections: kept }, `max_connections ${given}`)
  }
})

t.test('max_connections defaults to 40 publicly and 100 on a local server', async (t) => {
  const publicServer = await emulatorFor(t, { local: false })
  await callApi(publicServer.url, 'setWebhook', { url: PUBLIC_URL })
  t.match((await callApi(publicServer.url, 'getWebhookInfo')).body.result, { max_connections: 40 })
  const localServer = await emulatorFor(t, { local: true })
  const receiver = await receiverFor(t)
  await callApi(localServer.url, 'setWebhook', { url: receiver.url })
  t.match((await callApi(localServer.url, 'getWebhookInfo')).body.result, { max_connections: 100, ip_address: '127.0.0.1' })
})

t.test('secret_token: 1-256 characters of A-Z a-z 0-9 _ -', async (t) => {
  const emulator = await emulatorFor(t, { local: false, timeScale: 0.001 })
  const cases: Array<[string, string]> = [
    ['a'.repeat(257), 'Bad Request: secret token is too long'],
    ['has space', 'Bad Request: secret token contains unallowed characters'],
    ['dots.are.not.ok', 'Bad Request: secret token contains unallowed characters']
  ]
  for (const [secret, description] of cases) {
    await pause(5)
    const { body } = await callApi(emulator.url, 'setWebhook', { url: PUBLIC_URL, secret_token: secret })
    t.same(body, { ok: false, error_code: 400, description }, secret.slice(0, 20))
  }
  await pause(5)
  const ok = await callApi(emulator.url, 'setWebhook', { url: PUBLIC_URL, secret_token: `${'a'.repeat(250)}_-Z9` })
  t.equal(ok.body.ok, true)
})

t.test('setWebhook with a URL more than once a second is 429 with retry_after', async (t) => {
  const emulator = await emulatorFor(t, { timeScale: 1 })
  const receiver = await receiverFor(t)
  const [first, second] = await Promise.all([
    callApi(emulator.url, 'setWebhook', { url: receiver.url }),
    callApi(emulator.url, 'setWebhook', { url: `${receiver.url}?again` })
  ])
  t.equal(first.status, 200)
  t.equal(second.status, 429)
  t.same(second.body, { ok: false, error_code: 429, description: 'Too Many Requests: retry after 1', parameters: { retry_after: 1 } })
  t.equal(second.headers.get('retry-after'), '1')
  const deleted = await callApi(emulator.url, 'deleteWebhook')
  t.equal(deleted.status, 200, 'deleteWebhook is not rate-limited')
})

t.test('answers say whether anything changed', async (t) => {
  const emulator = await emulatorFor(t, { timeScale: 0.001 })
  const receiver = await receiverFor(t)
  t.equal((await callApi(emulator.url, 'deleteWebhook')).body.description, 'Webhook is already deleted')
  t.equal((await callApi(emulator.url, 'setWebhook', { url: receiver.url })).body.description, 'Webhook was set')
  await pause(5)
  t.equal((await callApi(emulator.url, 'setWebhook', { url: receiver.url })).body.description, 'Webhook is already set')
  t.equal((await callApi(emulator.url, 'deleteWebhook')).body.description, 'Webhook was deleted')
  t.match((await callApi(emulator.url, 'getWebhookInfo')).body.result, { url: '', pending_update_count: 0 })
})

t.test('a refused setWebhook leaves no webhook: Telegram closes the old one first', async (t) => {
  const emulator = await emulatorFor(t, { timeScale: 0.001 })
  const receiver = await receiverFor(t)
  await callApi(emulator.url, 'setWebhook', { url: receiver.url })
  await pause(5)
  const refused = await callApi(emulator.url, 'setWebhook', { url: receiver.url, secret_token: 'bad secret' })
  t.equal(refused.status, 400)
  t.match((await callApi(emulator.url, 'getWebhookInfo')).body.result, { url: '' })
})

t.test('pending updates survive deleteWebhook unless drop_pending_updates', async (t) => {
  const emulator = await emulatorFor(t)
  const bot = emulator.control.bot(TOKEN)
  bot.injectText('one')
  bot.injectText('two')
  await callApi(emulator.url, 'deleteWebhook')
  t.equal(bot.pendingUpdates().length, 2, 'kept by a plain deleteWebhook')
  const polled = await callApi(emulator.url, 'getUpdates')
  t.equal((polled.body.result as unknown[]).length, 2, 'and returned by getUpdates')
  await callApi(emulator.url, 'deleteWebhook', { drop_pending_updates: true })
  t.equal(bot.pendingUpdates().length, 0, 'dropped on request')
  t.match((await callApi(emulator.url, 'getWebhookInfo')).body.result, { pending_update_count: 0 })
})

t.test('allowed_updates: omitted keeps, [] means the default, a list filters new updates', async (t) => {
  const emulator = await emulatorFor(t, { timeScale: 0.001 })
  const bot = emulator.control.bot(TOKEN)
  const info = async (): Promise<unknown> => (await callApi(emulator.url, 'getWebhookInfo')).body.result
  const receiver = await receiverFor(t, () => ({ status: 500 }))
  await callApi(emulator.url, 'setWebhook', { url: receiver.url, allowed_updates: ['callback_query'] })
  t.match(await info(), { allowed_updates: ['callback_query'] })
  t.equal(bot.injectText('filtered out'), undefined, 'a message is not created at all')
  t.not(bot.injectCallbackQuery('kept'), undefined, 'a callback query is')

  await pause(5)
  await callApi(emulator.url, 'setWebhook', { url: receiver.url, max_connections: 5 })
  t.match(await info(), { allowed_updates: ['callback_query'], max_connections: 5 }, 'omitted keeps the previous list')

  await pause(5)
  await callApi(emulator.url, 'setWebhook', { url: receiver.url, allowed_updates: [] })
  t.notMatch(await info(), { allowed_updates: Array }, '[] is the default, which getWebhookInfo does not list')
  t.not(bot.injectText('allowed again'), undefined)
  t.equal(bot.injectUpdate({ message_reaction: { chat: { id: 1, type: 'private', first_name: 'x' }, message_id: 1, date: 0, old_reaction: [], new_reaction: [] } }), undefined,
    'message_reaction is opt-in')
})

t.test('getWebhookInfo reports the last delivery error with its date', async (t) => {
  const emulator = await emulatorFor(t)
  const bot = emulator.control.bot(TOKEN)
  const receiver = await receiverFor(t, () => ({ status: 500 }))
  await callApi(emulator.url, 'setWebhook', { url: receiver.url })
  bot.injectText('fails')
  await receiver.waitForPosts(1)
  await pause(20)
  const result = (await callApi(emulator.url, 'getWebhookInfo')).body.result as Record<string, unknown>
  t.match(result, { pending_update_count: 1, last_error_message: 'Wrong response from the webhook: 500 Internal Server Error' })
  t.ok(Math.abs(Number(result.last_error_date) - Date.now() / 1000) < 5, 'last_error_date is a unix time of now')
})
