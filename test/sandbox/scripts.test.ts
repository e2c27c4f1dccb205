// The scripting hooks the service's tests use: a method's answer replaced, the webhook preset,
// chats learned from updates posted around the emulator, typed params, setWebhook pacing off.
import t from 'tap'
import { SANDBOX_USER, privateChatOf } from '../../sandbox/user-updates.js'
import { TOKEN, callApi, emulatorFor, pause, receiverFor } from './helpers.js'

t.test('a script answers in Telegram\'s shape: an error with retry_after, then a result of its own', async (t) => {
  const emulator = await emulatorFor(t)
  const bot = emulator.control.bot(TOKEN)
  bot.script('getMe', () => ({ error_code: 429, description: 'Too Many Requests: retry after 7', parameters: { retry_after: 7 } }))
  const limited = await callApi(emulator.url, 'getMe')
  t.same([limited.status, limited.body], [429, { ok: false, error_code: 429, description: 'Too Many Requests: retry after 7', parameters: { retry_after: 7 } }])
  t.equal(limited.headers.get('retry-after'), '7')
  bot.script('GETME', () => ({ result: { id: 1, is_bot: true, first_name: 'Scripted' } }))
  t.same((await callApi(emulator.url, 'getMe')).body, { ok: true, result: { id: 1, is_bot: true, first_name: 'Scripted' } }, 'one script per method, whatever its spelling')
  bot.script('getMe', undefined)
  t.match((await callApi(emulator.url, 'getMe')).body, { ok: true, result: { first_name: 'Sandbox Bot' } }, 'the emulator answers again')
  t.match(bot.calls('getMe'), [{ error: 'Too Many Requests: retry after 7' }, {}, {}], 'every call is recorded, scripted or not')
})

t.test('a script that returns nothing delays the emulator\'s own answer; \'drop\' cuts the connection', async (t) => {
  const emulator = await emulatorFor(t)
  const bot = emulator.control.bot(TOKEN)
  bot.script('getWebhookInfo', async () => { await pause(60) })
  const started = performance.now()
  const info = await callApi(emulator.url, 'getWebhookInfo')
  t.ok(performance.now() - started >= 59, 'it waited')
  t.match(info.body, { ok: true, result: { url: '', pending_update_count: 0 } })
  bot.script('getWebhookInfo', () => 'drop')
  await t.rejects(callApi(emulator.url, 'getWebhookInfo'), { cause: { code: 'UND_ERR_SOCKET' } })
})

t.test('calls keep the params as sent beside the args as Telegram reads them', async (t) => {
  const emulator = await emulatorFor(t)
  await callApi(emulator.url, 'setWebhook', { url: 'http://127.0.0.1:9/telegram/webhook', max_connections: 40, allowed_updates: ['message'], drop_pending_updates: false })
  const [call] = emulator.control.bot(TOKEN).calls('setWebhook')
  t.same(call?.params, { url: 'http://127.0.0.1:9/telegram/webhook', max_connections: 40, allowed_updates: ['message'], drop_pending_updates: false })
  t.same(call?.args, { url: 'http://127.0.0.1:9/telegram/webhook', max_connections: '40', allowed_updates: '["message"]', drop_pending_updates: 'false' })
})

t.test('a preset webhook is reported as set, with its error, and nothing is delivered to it', async (t) => {
  const emulator = await emulatorFor(t)
  const receiver = await receiverFor(t)
  const bot = emulator.control.bot(TOKEN)
  bot.presetWebhook({ url: receiver.url, max_connections: 7, last_error_date: 1_700_000_000, last_error_message: 'Connection refused' })
  bot.injectText('waiting')
  t.match(bot.webhookInfo(), { url: receiver.url, max_connections: 7, pending_update_count: 1, last_error_date: 1_700_000_000, last_error_message: 'Connection refused' })
  bot.presetWebhook({ last_error_date: 1_700_000_060 })
  t.match(bot.webhookInfo(), { url: receiver.url, max_connections: 7, last_error_date: 1_700_000_060, last_error_message: 'Connection refused' }, 'merged into what was there')
  await pause(50)
  t.equal(receiver.posts.length, 0)
  bot.presetWebhook({ url: '' })
  t.match(bot.webhookInfo(), { url: '', pending_update_count: 1 })
  t.notOk('max_connections' in bot.webhookInfo())
})

t.test('the bot may reply to the chats of an update a test posted itself', async (t) => {
  const emulator = await emulatorFor(t)
  const chat = privateChatOf({ ...SANDBOX_USER, id: 4242 })
  const reply = { chat_id: 4242, text: 'hello' }
  t.match((await callApi(emulator.url, 'sendMessage', reply)).body, { ok: false, description: 'Bad Request: chat not found' })
  emulator.control.bot(TOKEN).learnChatsOf({ update_id: 1, message: { message_id: 1, date: 0, chat, text: 'hi' } })
  t.match((await callApi(emulator.url, 'sendMessage', reply)).body, { ok: true, result: { chat: { id: 4242 }, text: 'hello' } })
})

t.test('paceSetWebhook: false lets a test set the webhook twice within a second', async (t) => {
  const emulator = await emulatorFor(t, { paceSetWebhook: false })
  for (const maxConnections of [10, 20]) {
    const { status } = await callApi(emulator.url, 'setWebhook', { url: 'http://127.0.0.1:9/telegram/webhook', max_connections: maxConnections })
    t.equal(status, 200)
  }
})
