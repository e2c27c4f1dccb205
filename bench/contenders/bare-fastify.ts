// The floor: Fastify parses the JSON body, checks the secret header and answers 200. No bot, no
// dedupe, no logging: the least any Fastify webhook can do.
import Fastify from 'fastify'
import { counter, onStop, PORT, SECRET } from './common.js'

const secret = SECRET()
const app = Fastify({ logger: false })
app.post('/telegram/webhook', async (request, reply) => {
  if (request.headers['x-telegram-bot-api-secret-token'] !== secret) return reply.code(401).send()
  if (typeof (request.body as { update_id?: unknown } | null)?.update_id !== 'number') return reply.code(400).send()
  counter.handled++
  return reply.code(200).send()
})
onStop(async () => {
  await app.close()
  return undefined
})
await app.listen({ port: PORT, host: '127.0.0.1' })
