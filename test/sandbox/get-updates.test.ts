// getUpdates: offset confirmation, long polling, and the three 409 conflicts with Telegram's texts.
import t from 'tap'
import type { Update } from 'telegraf/types'
import { TOKEN, callApi, emulatorFor, pause, receiverFor } from './helpers.js'

const ids = (result: unknown): number[] => (result as Update[]).map((update) => update.update_id)

t.test('getUpdates while a webhook is set is 409', async (t) => {
  const emulator = await emulatorFor(t)
  const receiver = await receiverFor(t)
  await callApi(emulator.url, 'setWebhook', { url: receiver.url })
  const { status, body } = await callApi(emulator.url, 'getUpdates')
  // Telegram's words, literally (not the emulator's constant: a typo there must fail here).
  t.same([status, body], [409, { ok: false, error_code: 409, description: "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first" }])
})

t.test('offset confirms every update below it; a negative offset keeps the last ones', async (t) => {
  const emulator = await emulatorFor(t)
  const bot = emulator.control.bot(TOKEN)
  for (const text of ['a', 'b', 'c', 'd']) bot.injectText(text)
  t.same(ids((await callApi(emulator.url, 'getUpdates')).body.result), [1, 2, 3, 4], 'no offset: all pending')
  t.same(ids((await callApi(emulator.url, 'getUpdates', { limit: 2 })).body.result), [1, 2], 'limit')
  t.same(ids((await callApi(emulator.url, 'getUpdates', { offset: 3 })).body.result), [3, 4], 'offset 3 confirms 1 and 2')
  t.same(ids((await callApi(emulator.url, 'getUpdates')).body.result), [3, 4], 'confirmed ones are gone for good')
  t.same(ids((await callApi(emulator.url, 'getUpdates', { offset: -1 })).body.result), [4], 'offset -1: only the last')
  t.equal(bot.webhookInfo().pending_update_count, 1)
  t.same(ids((await callApi(emulator.url, 'getUpdates', { offset: 5 })).body.result), [], 'nothing new')
  t.equal(bot.webhookInfo().pending_update_count, 0)
})

t.test('a long poll returns as soon as an update arrives', async (t) => {
  const emulator = await emulatorFor(t, { timeScale: 1 })
  const bot = emulator.control.bot(TOKEN)
  const started = Date.now()
  const poll = callApi(emulator.url, 'getUpdates', { timeout: 10 })
  await pause(50)
  bot.injectText('wake up')
  const { body } = await poll
  t.same(ids(body.result), [1])
  t.ok(Date.now() - started < 2000, 'did not wait for the timeout')
})

t.test('a long poll with nothing to return ends empty after its (scaled) timeout', async (t) => {
  const emulator = await emulatorFor(t, { timeScale: 0.01 })
  const started = Date.now()
  const { body } = await callApi(emulator.url, 'getUpdates', { timeout: 20 })
  t.same(body, { ok: true, result: [] })
  t.ok(Date.now() - started >= 150, `waited ~200 ms (${Date.now() - started})`)
})

t.test('a second getUpdates ends the first with 409 "terminated by other getUpdates request"', async (t) => {
  const emulator = await emulatorFor(t, { timeScale: 0.1 })
  const first = callApi(emulator.url, 'getUpdates', { timeout: 5 })
  await pause(30)
  const second = callApi(emulator.url, 'getUpdates', { timeout: 1 })
  const ended = await first
  t.same([ended.status, ended.body], [409, { ok: false, error_code: 409, description: 'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running' }])
  t.same((await second).body, { ok: true, result: [] }, 'the newer poll carries on')
})

t.test('setWebhook ends a long poll with 409 "terminated by setWebhook request"', async (t) => {
  const emulator = await emulatorFor(t, { timeScale: 0.1 })
  const receiver = await receiverFor(t)
  const poll = callApi(emulator.url, 'getUpdates', { timeout: 5 })
  await pause(30)
  await callApi(emulator.url, 'setWebhook', { url: receiver.url })
  const ended = await poll
  t.same([ended.status, ended.body.description], [409, 'Conflict: terminated by setWebhook request'])
})

t.test('a 409 within 3 s of the last one is held back for 3 s (scaled)', async (t) => {
  const emulator = await emulatorFor(t, { timeScale: 0.05 })
  const receiver = await receiverFor(t)
  await callApi(emulator.url, 'setWebhook', { url: receiver.url })
  await callApi(emulator.url, 'getUpdates')
  const started = Date.now()
  const second = await callApi(emulator.url, 'getUpdates')
  t.equal(second.status, 409)
  t.ok(Date.now() - started >= 140, `second conflict held ~150 ms (${Date.now() - started})`)
})

t.test('getUpdates allowed_updates filters updates created afterwards', async (t) => {
  const emulator = await emulatorFor(t)
  const bot = emulator.control.bot(TOKEN)
  await callApi(emulator.url, 'getUpdates', { allowed_updates: ['callback_query'] })
  t.equal(bot.injectText('ignored'), undefined)
  bot.injectCallbackQuery('pressed')
  const { body } = await callApi(emulator.url, 'getUpdates')
  t.match(body.result, [{ update_id: 1, callback_query: { data: 'pressed' } }], 'the filtered message took no update_id')
})
