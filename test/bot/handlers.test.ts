import t from 'tap'
import { VOICE_ACK_TEXT } from '../../src/bot/handlers/voice.js'
import { buildTestApp, postUpdate, textUpdate, voiceUpdate } from '../helpers/app.js'

t.test('/start without a Mini App URL: a welcome with no keyboard', async (t) => {
  const { app, api } = await buildTestApp(t)
  await postUpdate(app, textUpdate('/start', 501))
  const [call] = api.callsOf('sendMessage')
  t.equal(call?.params.text, 'Welcome, Ada! Send me a voice message and I will let you know it arrived.')
  t.equal(call?.params.reply_markup, undefined)
})

t.test('/start with TELEGRAM_MINI_APP_URL: a web_app button opening the Mini App', async (t) => {
  const { app, api } = await buildTestApp(t, { TELEGRAM_MINI_APP_URL: 'https://app.example.com/' })
  await postUpdate(app, textUpdate('/start', 502))
  const [call] = api.callsOf('sendMessage')
  t.match(call?.params.reply_markup, { inline_keyboard: [[{ text: 'Open the app', web_app: { url: 'https://app.example.com/' } }]] })
})

t.test('a voice message is logged as "Received voice from <user id>" and acknowledged in reply to it', async (t) => {
  const { app, api, logs } = await buildTestApp(t)
  await postUpdate(app, voiceUpdate(503, 8003))
  t.match(logs.find('Received voice from 503'), [{ level: 30, user_id: 503, duration: 3 }])
  const [call] = api.callsOf('sendMessage')
  t.match(call?.params, { chat_id: 503, text: VOICE_ACK_TEXT, reply_parameters: { message_id: 8003 } })
})

t.test('plain text gets no reply (no handler claims it)', async (t) => {
  const { app, api } = await buildTestApp(t)
  const res = await postUpdate(app, textUpdate('just chatting', 504))
  t.equal(res.statusCode, 200)
  t.equal(api.callsOf('sendMessage').length, 0)
})
