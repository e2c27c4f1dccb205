// The whole webhook path, offline: the emulator delivers as Telegram does, the real ingress
// (registered through its own start-up) hands updates to the bot, the bot's replies come back.
import t from 'tap'
import { VOICE_ACK_TEXT } from '../../src/bot/handlers/voice.js'
import { features, type BotFeature } from '../../src/bot/index.js'
import { SANDBOX_TOKEN } from '../../sandbox/session.js'
import { SANDBOX_USER } from '../../sandbox/user-updates.js'
import { callApi, pause, waitUntil } from '../sandbox/helpers.js'
import { E2E_SECRET, sandboxFor } from './helpers.js'

t.test('start-up registers the webhook: getMe, getWebhookInfo, setWebhook with the secret', async (t) => {
  const sandbox = await sandboxFor(t)
  t.same(sandbox.bot.calls().map((call) => call.method), ['getMe', 'getWebhookInfo', 'setWebhook'])
  t.match(sandbox.bot.calls('setWebhook')[0]?.args, { url: sandbox.env.TELEGRAM_WEBHOOK_URL, secret_token: E2E_SECRET })
  t.match(sandbox.bot.webhookInfo(), { url: sandbox.env.TELEGRAM_WEBHOOK_URL, pending_update_count: 0 })
})

t.test('/start and a voice message get their replies through the webhook', async (t) => {
  const sandbox = await sandboxFor(t)
  sandbox.bot.injectCommand('start')
  const [welcome] = await sandbox.bot.waitForSent({ chatId: SANDBOX_USER.id })
  t.match(welcome?.message, { text: /^Welcome, Sandra!/ })

  const voice = sandbox.bot.injectVoice({ durationSeconds: 3 })
  const voiceMessageId = voice !== undefined && 'message' in voice ? voice.message.message_id : -1
  const [ack] = await sandbox.bot.waitForSent({ chatId: SANDBOX_USER.id, since: 1 })
  t.equal(ack?.message && 'text' in ack.message ? ack.message.text : '', VOICE_ACK_TEXT)
  t.same(JSON.parse(ack?.args.reply_parameters ?? '{}'), { message_id: voiceMessageId }, 'the ack replies to the voice message')
  t.equal(sandbox.logs.find(`Received voice from ${SANDBOX_USER.id}`).length, 1)

  await waitUntil(() => sandbox.bot.deliveryStats().successes === 2, 2000, () => 'both deliveries to be acknowledged')
  t.match(sandbox.bot.deliveryStats(), { attempts: 2, failures: 0 })
})

t.test('every delivery carries the secret; a wrong one is refused and redelivered once fixed', async (t) => {
  const sandbox = await sandboxFor(t)
  const url = sandbox.env.TELEGRAM_WEBHOOK_URL
  await pause(20) // the emulator's 1 setWebhook/s limit, at x0.01
  await callApi(sandbox.emulator.url, 'setWebhook', { url, secret_token: 'not_the_secret' }, SANDBOX_TOKEN)
  sandbox.bot.injectCommand('start')
  await waitUntil(() => sandbox.bot.deliveryStats().failures >= 2, 2000, () => 'refused deliveries')
  t.match(sandbox.bot.webhookInfo(), { last_error_message: 'Wrong response from the webhook: 401 Unauthorized', pending_update_count: 1 })
  t.same(sandbox.bot.sent(), [], 'the bot never saw the update')
  const health = await (await fetch(`${sandbox.service.url}/telegram/webhook-info`)).json() as { warnings?: string[] }
  t.match(health.warnings, [/401 Unauthorized/, /secret_token at Telegram differs/, /1 updates are waiting/], 'the health route explains it')

  await callApi(sandbox.emulator.url, 'setWebhook', { url, secret_token: E2E_SECRET }, SANDBOX_TOKEN)
  const [reply] = await sandbox.bot.waitForSent({ chatId: SANDBOX_USER.id })
  t.match(reply?.message, { text: /^Welcome/ }, 'the pending update is delivered once the secret matches')
})

t.test('per-chat order: each chat gets its replies in the order it wrote, even when acks go first', async (t) => {
  // Budget 0 acks each update at once, so Telegram (the emulator) sends a chat's next update while
  // the slow /start is still running: only the ingress's chat queue keeps the replies in order.
  const slowStart: BotFeature = (bot) => {
    bot.use(async (ctx, next) => {
      if (ctx.text?.startsWith('/start') === true) await pause(40)
      await next()
    })
  }
  const sandbox = await sandboxFor(t, { env: { TELEGRAM_HANDLER_BUDGET_MS: '0' }, features: [slowStart, ...features] })
  const users = [1, 2, 3, 4, 5].map((n) => ({ ...SANDBOX_USER, id: 200 + n, first_name: `User${n}` }))
  for (const from of users) {
    sandbox.bot.injectCommand('start', '', { from })
    sandbox.bot.injectVoice({ from })
    sandbox.bot.injectCommand('start', '', { from })
  }
  await sandbox.bot.waitForSent({ count: users.length * 3, timeoutMs: 5000 })
  for (const from of users) {
    const texts = sandbox.bot.sent(from.id).map((sent) => ('text' in sent.message ? sent.message.text : ''))
    t.same(texts.map((text) => (text === VOICE_ACK_TEXT ? 'ack' : text.startsWith('Welcome') ? 'welcome' : text)),
      ['welcome', 'ack', 'welcome'], `chat ${from.id}`)
  }
})

t.test('getWebhookInfo: the emulator\'s and the ingress\'s health route agree', async (t) => {
  const sandbox = await sandboxFor(t)
  const info = (await callApi(sandbox.emulator.url, 'getWebhookInfo', {}, SANDBOX_TOKEN)).body.result
  t.match(info, { url: sandbox.env.TELEGRAM_WEBHOOK_URL, pending_update_count: 0, max_connections: 100, has_custom_certificate: false })
  const health = await fetch(`${sandbox.service.url}/telegram/webhook-info`)
  t.equal(health.status, 200)
  t.match(await health.json(), { ok: true, mode: 'webhook', verdict: 'ok', info: { url: sandbox.env.TELEGRAM_WEBHOOK_URL } })
})
