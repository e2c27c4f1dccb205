// The emulator answers Bot API calls with Telegram's shapes, codes and texts, however the
// arguments arrive (JSON, urlencoded, multipart, query string).
import t from 'tap'
import { SANDBOX_USER } from '../../sandbox/user-updates.js'
import { BOT_ID, TOKEN, callApi, emulatorFor } from './helpers.js'

t.test('getMe answers with the bot whose id is the token\'s digits', async (t) => {
  const emulator = await emulatorFor(t, { botUsername: 'demo_bot' })
  const { status, body } = await callApi(emulator.url, 'getMe')
  t.equal(status, 200)
  t.match(body, { ok: true, result: { id: BOT_ID, is_bot: true, username: 'demo_bot' } })
})

t.test('a token that is not one is 401 Unauthorized, in Telegram\'s error shape', async (t) => {
  const emulator = await emulatorFor(t)
  for (const token of ['not-a-token', '0123:abc', `${TOKEN}!`, `1:${'a'.repeat(80)}`]) {
    const response = await fetch(`${emulator.url}/bot${token}/getMe`)
    t.equal(response.status, 401, token)
    t.same(await response.json(), { ok: false, error_code: 401, description: 'Unauthorized' }, token)
  }
})

t.test('with a token list, only those tokens exist', async (t) => {
  const emulator = await emulatorFor(t, { tokens: [TOKEN] })
  t.equal((await callApi(emulator.url, 'getMe')).status, 200)
  const other = await callApi(emulator.url, 'getMe', {}, '987654321:SANDBOX_sandbox_SANDBOX_sandbox_SAN')
  t.same(other.body, { ok: false, error_code: 401, description: 'Unauthorized' })
})

t.test('unknown methods and paths are 404 with Telegram\'s texts', async (t) => {
  const emulator = await emulatorFor(t)
  const method = await callApi(emulator.url, 'sendTelepathy')
  t.same([method.status, method.body], [404, { ok: false, error_code: 404, description: 'Not Found: method not found' }])
  const path = await fetch(`${emulator.url}/nowhere`)
  t.same([path.status, await path.json()], [404, { ok: false, error_code: 404, description: 'Not Found' }])
})

t.test('method names are case-insensitive, as on Telegram', async (t) => {
  const emulator = await emulatorFor(t)
  t.equal((await callApi(emulator.url, 'GETME')).status, 200)
})

t.test('bad parameters are 400 with Telegram\'s texts', async (t) => {
  const emulator = await emulatorFor(t)
  emulator.control.bot(TOKEN).injectText('hi')
  const chatId = SANDBOX_USER.id
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['sendMessage', { text: 'x' }, 'Bad Request: chat_id is empty'],
    ['sendMessage', { chat_id: 42, text: 'x' }, 'Bad Request: chat not found'],
    ['sendMessage', { chat_id: chatId }, 'Bad Request: message text is empty'],
    ['sendVoice', { chat_id: chatId }, 'Bad Request: there is no voice in the request'],
    ['sendVoice', { chat_id: chatId, voice: 'no-such-file' }, 'Bad Request: wrong file identifier/HTTP URL specified'],
    ['sendChatAction', { chat_id: chatId, action: 'dancing' }, 'Bad Request: wrong parameter action in request'],
    ['answerCallbackQuery', { callback_query_id: '1' }, 'Bad Request: query is too old and response timeout expired or query ID is invalid'],
    ['getFile', { file_id: 'nope' }, 'Bad Request: invalid file_id'],
    ['editMessageText', { chat_id: chatId, message_id: 999, text: 'x' }, 'Bad Request: message to edit not found']
  ]
  for (const [method, params, description] of cases) {
    const { status, body } = await callApi(emulator.url, method, params)
    t.same([status, body], [400, { ok: false, error_code: 400, description }], `${method} ${JSON.stringify(params)}`)
  }
})

t.test('sendMessage to a chat the bot has seen returns the Message and lands in the outbox', async (t) => {
  const emulator = await emulatorFor(t)
  const bot = emulator.control.bot(TOKEN)
  bot.injectText('hi')
  const { body } = await callApi(emulator.url, 'sendMessage', {
    chat_id: 100_000_001,
    text: 'hello',
    reply_markup: { inline_keyboard: [[{ text: 'Open', web_app: { url: 'https://example.com/app' } }]] }
  })
  t.match(body.result, { message_id: 2, chat: { id: 100_000_001 }, from: { id: BOT_ID, is_bot: true }, text: 'hello' })
  t.match(bot.sent(100_000_001), [{ method: 'sendMessage', message: { text: 'hello', reply_markup: { inline_keyboard: [[{ text: 'Open' }]] } } }])
})

t.test('urlencoded bodies and query strings carry arguments too', async (t) => {
  const emulator = await emulatorFor(t)
  emulator.control.bot(TOKEN).injectText('hi')
  const form = await fetch(`${emulator.url}/bot${TOKEN}/sendMessage`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'chat_id=100000001&text=from+a+form'
  })
  t.match(await form.json(), { ok: true, result: { text: 'from a form' } })
  const query = await fetch(`${emulator.url}/bot${TOKEN}/sendMessage?chat_id=100000001&text=from%20a%20query`)
  t.match(await query.json(), { ok: true, result: { text: 'from a query' } })
})

t.test('a multipart upload (how Telegraf sends files) creates a file the bot can fetch', async (t) => {
  const emulator = await emulatorFor(t)
  emulator.control.bot(TOKEN).injectText('hi')
  const form = new FormData()
  form.set('chat_id', '100000001')
  form.set('duration', '3')
  form.set('voice', new Blob([Buffer.alloc(1234)]), 'note.ogg')
  const sent = await fetch(`${emulator.url}/bot${TOKEN}/sendVoice`, { method: 'POST', body: form })
  const message = await sent.json() as { result: { voice: { file_id: string, file_size: number, duration: number } } }
  t.match(message.result.voice, { file_size: 1234, duration: 3 })
  const file = await callApi(emulator.url, 'getFile', { file_id: message.result.voice.file_id })
  const filePath = (file.body.result as { file_path: string }).file_path
  const download = await fetch(`${emulator.url}/file/bot${TOKEN}/${filePath}`)
  t.equal(download.status, 200)
  t.equal((await download.arrayBuffer()).byteLength, 1234)
})

t.test('an injected voice message can be fetched with getFile', async (t) => {
  const emulator = await emulatorFor(t)
  const update = emulator.control.bot(TOKEN).injectVoice({ durationSeconds: 4, fileSizeBytes: 2048 })
  const voice = update !== undefined && 'message' in update && 'voice' in update.message ? update.message.voice : undefined
  t.match(voice, { duration: 4, mime_type: 'audio/ogg', file_size: 2048 })
  const file = await callApi(emulator.url, 'getFile', { file_id: voice?.file_id })
  t.match(file.body, { ok: true, result: { file_id: voice?.file_id, file_size: 2048, file_path: /^voice\// } })
})

t.test('answerCallbackQuery accepts a live query once', async (t) => {
  const emulator = await emulatorFor(t)
  const bot = emulator.control.bot(TOKEN)
  bot.injectText('hi')
  const update = bot.injectCallbackQuery('yes')
  const id = update !== undefined && 'callback_query' in update ? update.callback_query.id : ''
  t.match(await callApi(emulator.url, 'answerCallbackQuery', { callback_query_id: id }), { status: 200, body: { result: true } })
  t.match(await callApi(emulator.url, 'answerCallbackQuery', { callback_query_id: id }), { status: 400 })
})

t.test('editMessageText refuses an edit that changes nothing', async (t) => {
  const emulator = await emulatorFor(t)
  emulator.control.bot(TOKEN).injectText('hi')
  const sent = await callApi(emulator.url, 'sendMessage', { chat_id: 100_000_001, text: 'v1' })
  const messageId = (sent.body.result as { message_id: number }).message_id
  const edited = await callApi(emulator.url, 'editMessageText', { chat_id: 100_000_001, message_id: messageId, text: 'v2' })
  t.match(edited.body, { ok: true, result: { text: 'v2', edit_date: Number } })
  const same = await callApi(emulator.url, 'editMessageText', { chat_id: 100_000_001, message_id: messageId, text: 'v2' })
  t.match(same.body, { ok: false, error_code: 400, description: /^Bad Request: message is not modified/ })
})
