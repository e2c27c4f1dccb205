import t from 'tap'
import type { Telegraf } from 'telegraf'
import { createTelegraf } from '../../src/bot/index.js'
import { Ingress } from '../../src/ingress/ingress.js'
import { conflictMessage, Poller } from '../../src/telegram/poller.js'
import { BAD_TOKEN_MESSAGE, checkToken, ensureWebhook, guardPolling, StartupError } from '../../src/telegram/startup.js'
import { FAKE_TOKEN, startTestBotApi, type TestBotApi } from '../helpers/bot-api.js'
import { textUpdate } from '../helpers/app.js'
import { quiet, waitUntil } from '../helpers/wait.js'

const fast = { baseDelayMs: 1, attempts: 5 }
const setup = { url: 'https://bot.example.com/telegram/webhook', maxConnections: 100, allowedUpdates: undefined, secret: 'sekret_1' }

async function telegramFor (t: { teardown: (fn: () => unknown) => void }): Promise<{ api: TestBotApi, telegram: Telegraf['telegram'] }> {
  const api = await startTestBotApi()
  t.teardown(() => api.close())
  return { api, telegram: createTelegraf(FAKE_TOKEN, api.apiRoot).telegram }
}

t.test('getMe: a 401 is a clear start-up error without the token', async (t) => {
  const { api, telegram } = await telegramFor(t)
  api.on('getMe', () => ({ error_code: 401, description: 'Unauthorized' }))
  const err = await checkToken(telegram, quiet, fast).catch((e: unknown) => e)
  t.type(err, StartupError)
  t.equal((err as Error).message, BAD_TOKEN_MESSAGE)
  t.equal(api.callsOf('getMe').length, 1, 'a bad token is not retried')
})

t.test('getMe: network errors and 5xx are retried with backoff until Telegram answers', async (t) => {
  const { api, telegram } = await telegramFor(t)
  let n = 0
  api.on('getMe', () => {
    n++
    if (n === 1) return 'drop'
    if (n === 2) return { error_code: 502, description: 'Bad Gateway' }
    return { result: { id: 1, is_bot: true, first_name: 'B', username: 'b_bot' } }
  })
  const warnings: unknown[] = []
  const me = await checkToken(telegram, { ...quiet, warn: (o: unknown) => { warnings.push(o) } }, fast)
  t.equal(me.username, 'b_bot')
  t.equal(api.callsOf('getMe').length, 3)
  t.match(warnings, [{ attempt: 1, delay_ms: 1 }, { attempt: 2, delay_ms: 2 }])
})

t.test('getMe: retries are bounded', async (t) => {
  const { api, telegram } = await telegramFor(t)
  api.on('getMe', () => 'drop')
  const err = await checkToken(telegram, quiet, { baseDelayMs: 1, attempts: 3 }).catch((e: unknown) => e)
  t.type(err, StartupError)
  t.match((err as Error).message, /getMe failed 3 times, giving up: Telegram could not be reached/)
  t.notOk((err as Error).message.includes(FAKE_TOKEN.split(':')[1] ?? 'x'))
  t.equal(api.callsOf('getMe').length, 3)
})

t.test('ensureWebhook sets the webhook (with the secret) when Telegram has none', async (t) => {
  const { api, telegram } = await telegramFor(t)
  const { changed } = await ensureWebhook(telegram, { ...setup, maxConnections: 40, allowedUpdates: ['message'] }, quiet, fast)
  t.same(changed, ['no webhook is set'])
  t.match(api.callsOf('setWebhook')[0]?.params, { url: setup.url, secret_token: 'sekret_1', max_connections: 40, allowed_updates: ['message'] })
})

t.test('ensureWebhook is idempotent: nothing differs, no setWebhook', async (t) => {
  const { api, telegram } = await telegramFor(t)
  api.presetWebhook({ url: setup.url, max_connections: 100 })
  const { changed } = await ensureWebhook(telegram, setup, quiet, fast)
  t.same(changed, [])
  t.equal(api.callsOf('setWebhook').length, 0)
})

t.test('ensureWebhook sets again when max_connections or allowed_updates differ, or deliveries got our 401', async (t) => {
  const { api, telegram } = await telegramFor(t)
  api.presetWebhook({ url: setup.url, max_connections: 40 })
  t.same((await ensureWebhook(telegram, setup, quiet, fast)).changed, ['max_connections is 40, not 100'])
  t.same((await ensureWebhook(telegram, { ...setup, allowedUpdates: ['message'] }, quiet, fast)).changed, ['allowed_updates is [], not [message]'])
  t.same(api.webhook.allowed_updates, ['message'])
  // A 401 from two hours ago is history (Telegram keeps the last error until another replaces it).
  api.presetWebhook({ last_error_date: Math.floor(Date.now() / 1000) - 7200, last_error_message: 'Wrong response from the webhook: 401 Unauthorized' })
  t.same((await ensureWebhook(telegram, { ...setup, allowedUpdates: ['message'] }, quiet, fast)).changed, [])
  api.presetWebhook({ last_error_date: Math.floor(Date.now() / 1000) - 60 })
  t.match((await ensureWebhook(telegram, { ...setup, allowedUpdates: ['message'] }, quiet, fast)).changed, [/401/])
  t.equal(api.callsOf('setWebhook').length, 3)
})

t.test('ensureWebhook waits out setWebhook\'s 429 (retry_after)', async (t) => {
  const { api, telegram } = await telegramFor(t)
  let n = 0
  api.on('setWebhook', () => (++n === 1 ? { error_code: 429, description: 'Too Many Requests: retry after 1', parameters: { retry_after: 1 } } : { result: true }))
  const warnings: unknown[] = []
  const started = Date.now()
  await ensureWebhook(telegram, setup, { ...quiet, warn: (obj: unknown) => { warnings.push(obj) } }, fast)
  t.equal(api.callsOf('setWebhook').length, 2)
  t.match(warnings, [{ attempt: 1, delay_ms: 1000 }], 'Telegram\'s second, not the 1 ms backoff')
  t.equal(warnings.length, 1)
  t.ok(Date.now() - started >= 950, 'and it did wait')
})

t.test('polling guard: an active webhook stops start-up with its URL and the way out', async (t) => {
  const { api, telegram } = await telegramFor(t)
  api.presetWebhook({ url: 'https://prod.example.com/api/telegram/webhook' })
  const err = await guardPolling(telegram, false, quiet, fast).catch((e: unknown) => e)
  t.type(err, StartupError)
  t.match((err as Error).message, /webhook is active for this bot at https:\/\/prod\.example\.com\/api\/telegram\/webhook/)
  t.match((err as Error).message, /separate bot token/)
  t.match((err as Error).message, /TELEGRAM_DELETE_WEBHOOK_FOR_POLLING=true/)
  t.equal(api.callsOf('deleteWebhook').length, 0, 'production\'s webhook is left alone')
})

t.test('polling guard: with the force flag the webhook is deleted, pending updates kept', async (t) => {
  const { api, telegram } = await telegramFor(t)
  api.presetWebhook({ url: 'https://prod.example.com/api/telegram/webhook' })
  await guardPolling(telegram, true, quiet, fast)
  t.match(api.callsOf('deleteWebhook')[0]?.params, { drop_pending_updates: false })
})

t.test('polling guard: no webhook, nothing to do', async (t) => {
  const { api, telegram } = await telegramFor(t)
  await guardPolling(telegram, false, quiet, fast)
  t.equal(api.callsOf('deleteWebhook').length, 0)
})

t.test('poller: updates go through the ingress, and the offset confirms them', async (t) => {
  const { api, telegram } = await telegramFor(t)
  const batches = [[textUpdate('a', 1, 10), textUpdate('b', 2, 11)], []]
  api.on('getUpdates', async () => {
    const next = batches.shift()
    if (next !== undefined) return { result: next }
    return await new Promise((resolve) => setTimeout(() => resolve({ result: [] }), 20))
  })
  const handled: number[] = []
  const ingress = new Ingress({ log: quiet, budgetMs: 1000, handle: async (u) => { handled.push(u.update_id) } })
  const poller = new Poller(telegram, ingress, quiet, { allowedUpdates: ['message'], timeoutSeconds: 0 })
  poller.start().catch(() => {})
  await waitUntil(() => api.callsOf('getUpdates').length >= 3, 5000, () => 'three getUpdates calls')
  await poller.stop()
  t.same(handled, [10, 11])
  const offsets = api.callsOf('getUpdates').map((c) => c.params.offset)
  t.same(offsets.slice(0, 3), [0, 12, 12])
  t.same(api.callsOf('getUpdates')[0]?.params.allowed_updates, ['message'])
  t.equal(poller.running, false)
})

t.test('poller: a 409 from another getUpdates fails fast with the reason', async (t) => {
  const { api, telegram } = await telegramFor(t)
  api.on('getUpdates', () => ({ error_code: 409, description: 'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running' }))
  const ingress = new Ingress({ log: quiet, budgetMs: 1000, handle: async () => {} })
  const poller = new Poller(telegram, ingress, quiet, { allowedUpdates: undefined })
  const started = Date.now()
  const err = await poller.start().catch((e: unknown) => e)
  t.type(err, StartupError)
  t.match((err as Error).message, /Another process is polling with this bot token/)
  t.ok(Date.now() - started < 5000, 'no silent 30 s hang')
  t.equal(api.callsOf('getUpdates').length, 1, 'not retried')
  t.equal(poller.running, false, 'ended polling is not reported as running (webhook-info would say "polling")')
})

t.test('poller: transient failures are retried', async (t) => {
  const { api, telegram } = await telegramFor(t)
  let n = 0
  api.on('getUpdates', () => (++n === 1 ? 'drop' : n === 2 ? { result: [textUpdate('x', 1, 50)] } : { result: [] }))
  const handled: number[] = []
  const ingress = new Ingress({ log: quiet, budgetMs: 1000, handle: async (u) => { handled.push(u.update_id) } })
  const poller = new Poller(telegram, ingress, quiet, { allowedUpdates: undefined, timeoutSeconds: 0, retryDelayMs: 1 })
  poller.start().catch(() => {})
  await waitUntil(() => handled.length > 0, 5000, () => 'the update after the dropped connection')
  t.equal(poller.running, true)
  await poller.stop()
  t.same(handled, [50])
})

t.test('poller: a 429 waits Telegram\'s retry_after, as start-up retries do', async (t) => {
  const { api, telegram } = await telegramFor(t)
  let n = 0
  api.on('getUpdates', () => (++n === 1 ? { error_code: 429, description: 'Too Many Requests: retry after 1', parameters: { retry_after: 1 } } : n === 2 ? { result: [textUpdate('x', 1, 60)] } : { result: [] }))
  const handled: number[] = []
  const warnings: unknown[] = []
  const log = { ...quiet, warn: (obj: unknown) => { warnings.push(obj) } }
  const ingress = new Ingress({ log: quiet, budgetMs: 1000, handle: async (u) => { handled.push(u.update_id) } })
  const poller = new Poller(telegram, ingress, log, { allowedUpdates: undefined, timeoutSeconds: 0, retryDelayMs: 1 })
  const started = Date.now()
  poller.start().catch(() => {})
  await waitUntil(() => handled.length > 0, 5000, () => 'the update after the 429')
  await poller.stop()
  t.ok(Date.now() - started >= 950, 'waited the second Telegram asked for, not the 1 ms backoff')
  t.equal(warnings.length, 1)
  t.match(warnings, [{ delay_ms: 1000 }])
})

t.test('the other 409 texts get their own advice', async (t) => {
  t.match(conflictMessage('Conflict: can\'t use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first'), /A webhook is set for this bot/)
  t.match(conflictMessage('Conflict: terminated by setWebhook request'), /Someone set a webhook/)
})
