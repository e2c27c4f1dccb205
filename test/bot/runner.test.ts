import t from 'tap'
import type { Context } from 'telegraf'
import { createTelegraf, updateRunner } from '../../src/bot/index.js'
import { FAKE_BOT, FAKE_TOKEN, startTestBotApi } from '../helpers/bot-api.js'
import { typedTextUpdate as update } from '../helpers/app.js'

t.test('updateRunner runs the middleware with what handleUpdate would give it, on the bot\'s own client', async (t) => {
  const api = await startTestBotApi()
  t.teardown(async () => { await api.close() })
  const bot = createTelegraf(FAKE_TOKEN, api.apiRoot)
  bot.botInfo = FAKE_BOT
  ;(bot.context as Record<string, unknown>).fromBotContext = 'set on bot.context'
  const seen: Context[] = []
  bot.on('message', async (ctx) => {
    seen.push(ctx)
    await ctx.reply(`echo ${ctx.text ?? ''}`)
  })
  const hello = update('hello', 42, 1001)
  api.learnChatsOf(hello)
  await updateRunner(bot)(hello)
  const ctx = seen[0]
  t.equal(ctx?.update.update_id, 1001)
  t.equal(ctx?.chat?.id, 42)
  t.equal(ctx?.me, FAKE_BOT.username, 'botInfo is the bot\'s')
  t.equal(ctx?.telegram, bot.telegram, 'one shared API client, not a new one per update')
  t.equal((ctx as unknown as Record<string, unknown>).fromBotContext, 'set on bot.context')
  t.match(api.callsOf('sendMessage'), [{ params: { chat_id: 42, text: 'echo hello' } }], 'the reply went out')
})

t.test('updateRunner lets a handler\'s error reach the caller, which logs it', async (t) => {
  const bot = createTelegraf(FAKE_TOKEN, 'http://127.0.0.1:9')
  bot.botInfo = FAKE_BOT
  bot.on('message', () => { throw new Error('handler broke') })
  await t.rejects(updateRunner(bot)(update('x', 1, 1)), { message: 'handler broke' })
})

t.test('updateRunner hands errors to a bot.catch a feature set, as handleUpdate would', async (t) => {
  const bot = createTelegraf(FAKE_TOKEN, 'http://127.0.0.1:9')
  bot.botInfo = FAKE_BOT
  const caught: Array<{ message: string, updateId: number }> = []
  bot.catch((err, ctx) => { caught.push({ message: (err as Error).message, updateId: ctx.update.update_id }) })
  bot.on('message', () => { throw new Error('handler broke') })
  await updateRunner(bot)(update('x', 1, 7))
  t.same(caught, [{ message: 'handler broke', updateId: 7 }], 'caught by the bot, so it does not reach the ingress')
})

t.test('updates with no matching handler pass through; features added after the runner was made still run', async (t) => {
  const bot = createTelegraf(FAKE_TOKEN, 'http://127.0.0.1:9')
  bot.botInfo = FAKE_BOT
  const run = updateRunner(bot)
  const handled: number[] = []
  bot.use(async (ctx, next) => { handled.push(-ctx.update.update_id); await next() }) // sees every update
  await run(update('nobody listens', 1, 1))
  t.same(handled, [-1], 'ran through the middleware and out the end, with nothing to claim it')
  bot.on('message', (ctx) => { handled.push(ctx.update.update_id) })
  await run(update('now someone does', 1, 2))
  t.same(handled, [-1, -2, 2])
})

t.test('without botInfo (start-up checks not run) it falls back to handleUpdate, which calls getMe once', async (t) => {
  const api = await startTestBotApi()
  t.teardown(async () => { await api.close() })
  const bot = createTelegraf(FAKE_TOKEN, api.apiRoot)
  const handled: number[] = []
  bot.on('message', (ctx) => { handled.push(ctx.update.update_id) })
  const run = updateRunner(bot)
  await run(update('a', 1, 1))
  await run(update('b', 1, 2))
  t.same(handled, [1, 2])
  t.equal(api.callsOf('getMe').length, 1)
  t.equal(bot.botInfo?.username, FAKE_BOT.username)
})
