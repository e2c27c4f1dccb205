// What most users write: a Fastify route that checks the secret and awaits Telegraf's
// handleUpdate. No dedupe, no per-chat order, no budget, no logging. The reference for memory.
import Fastify from 'fastify'
import { Telegraf } from 'telegraf'
import type { Update } from 'telegraf/types'
import { STUB_BOT } from '../bot-api-stub.js'
import { API_ROOT, benchBot, installBenchBot, onStop, PORT, SECRET, TOKEN } from './common.js'

const secret = SECRET()
const bot = new Telegraf(TOKEN(), { telegram: { apiRoot: API_ROOT(), webhookReply: false } })
bot.botInfo = STUB_BOT
installBenchBot(bot, benchBot())

const app = Fastify({ logger: false })
app.post('/telegram/webhook', async (request, reply) => {
  if (request.headers['x-telegram-bot-api-secret-token'] !== secret) return reply.code(401).send()
  await bot.handleUpdate(request.body as Update)
  return reply.code(200).send()
})
onStop(async () => {
  await app.close()
  return undefined
})
await app.listen({ port: PORT, host: '127.0.0.1' })
