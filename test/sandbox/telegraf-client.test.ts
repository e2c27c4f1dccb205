// Telegraf, the client our bot uses, talks to the emulator as it would to api.telegram.org:
// JSON calls, multipart uploads, Telegram errors surfacing as TelegramError.
import t from 'tap'
import { Input, Telegraf, TelegramError } from 'telegraf'
import { SANDBOX_USER } from '../../sandbox/user-updates.js'
import { BOT_ID, TOKEN, emulatorFor, receiverFor } from './helpers.js'

t.test('Telegraf calls, uploads and errors work against the emulator', async (t) => {
  const emulator = await emulatorFor(t)
  const bot = emulator.control.bot(TOKEN)
  const telegraf = new Telegraf(TOKEN, { telegram: { apiRoot: emulator.url } })
  t.match(await telegraf.telegram.getMe(), { id: BOT_ID, is_bot: true })

  bot.injectText('hi')
  const text = await telegraf.telegram.sendMessage(SANDBOX_USER.id, 'hello from telegraf')
  t.equal(text.text, 'hello from telegraf')

  const voice = await telegraf.telegram.sendVoice(SANDBOX_USER.id, Input.fromBuffer(Buffer.alloc(321), 'note.ogg'), { caption: 'listen' })
  t.match(voice, { voice: { file_size: 321 }, caption: 'listen' }, 'the multipart upload was parsed')
  t.same(bot.sent(SANDBOX_USER.id).map((sent) => sent.method), ['sendMessage', 'sendVoice'])

  const error = await telegraf.telegram.sendMessage(42, 'nobody').catch((caught: unknown) => caught)
  t.ok(error instanceof TelegramError)
  t.match(error, { code: 400, description: 'Bad Request: chat not found' })
})

t.test('Telegraf\'s setWebhook and getWebhookInfo round-trip', async (t) => {
  const emulator = await emulatorFor(t)
  const receiver = await receiverFor(t)
  const telegraf = new Telegraf(TOKEN, { telegram: { apiRoot: emulator.url } })
  t.equal(await telegraf.telegram.setWebhook(receiver.url, { secret_token: 'abc', max_connections: 10, allowed_updates: ['message'] }), true)
  t.match(await telegraf.telegram.getWebhookInfo(), {
    url: receiver.url, max_connections: 10, allowed_updates: ['message'], pending_update_count: 0
  })
})
