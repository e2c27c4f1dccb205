import { once } from 'node:events'
import { connect, type AddressInfo } from 'node:net'
import t from 'tap'
import { createLogger, REDACTED, SecretScrubber } from '../src/logger.js'
import { ADMIN_TOKEN, buildTestApp, SECRET } from './helpers/app.js'
import { waitUntil } from './helpers/wait.js'
import { FAKE_TOKEN as TOKEN } from './helpers/bot-api.js'
import { LogCapture } from './helpers/log-capture.js'

t.test('secrets are replaced in messages, error messages and stacks, whole and in part', async (t) => {
  const scrubber = new SecretScrubber()
  scrubber.add([TOKEN, TOKEN.split(':')[1] ?? '', 'webhook_secret_value', 'admin-token-0123456789'])
  const logs = new LogCapture()
  const log = createLogger(scrubber, logs)
  const err = new Error(`request to http://127.0.0.1:1/bot${TOKEN}/getMe failed`)
  log.error({ err }, 'call failed')
  log.info(`half of it: ${TOKEN.split(':')[1] ?? ''}, secret webhook_secret_value, admin admin-token-0123456789`)
  log.info({ nested: { url: `/bot${TOKEN}/sendMessage` } }, 'nested')
  t.equal(logs.raw.length, 3)
  for (const line of logs.raw) {
    t.notOk(line.includes('TEST-fake-token'), line)
    t.notOk(line.includes('webhook_secret_value'))
    t.notOk(line.includes('admin-token-0123456789'))
  }
  t.match(logs.entries[0], { err: { message: `request to http://127.0.0.1:1/bot${REDACTED}/getMe failed` } })
  t.match(logs.entries[2], { nested: { url: `/bot${REDACTED}/sendMessage` } })
})

t.test('the secret and authorization headers are redacted by path', async (t) => {
  const logs = new LogCapture()
  const log = createLogger(new SecretScrubber(), logs)
  log.info({ req: { headers: { authorization: 'Bearer abc', 'x-telegram-bot-api-secret-token': 'xyz', host: 'h' } } }, 'request')
  t.match(logs.entries[0], { req: { headers: { authorization: REDACTED, 'x-telegram-bot-api-secret-token': REDACTED, host: 'h' } } })
})

// Fastify runs without a logger of its own (src/app.ts): what it logs must still reach ours.
t.test('Fastify\'s own warnings and app.log reach our logger, request lines with their reqId, secrets scrubbed', async (t) => {
  const { app, logs } = await buildTestApp(t)
  app.get('/twice', async (_request, reply) => {
    await reply.send('first')
    await reply.send('second') // Fastify warns: the reply was already sent
  })
  app.log.info(`a line through app.log with ${TOKEN}`)
  const res = await app.inject({ method: 'GET', url: '/twice' })
  t.equal(res.body, 'first')
  const warning = logs.entries.find((e) => (e.err as { code?: string } | undefined)?.code === 'FST_ERR_REP_ALREADY_SENT')
  t.match(warning, { level: 40, reqId: /^req-/ }, 'Fastify\'s warning, on request.log, with the request id')
  t.match(logs.find('a line through app.log'), [{ level: 30, msg: `a line through app.log with ${REDACTED}` }])
  t.notOk(logs.raw.join('').includes(TOKEN), 'the token never reached the output')
})

// Node's parser attaches the malformed request's raw bytes to its error as `rawPacket`, and Fastify
// logs that error at trace level: a secret header or bearer token inside would be an array of bytes.
t.test('at trace level, a malformed request carrying the secret and the admin token logs neither', async (t) => {
  const { app, logs } = await buildTestApp(t, { LOG_LEVEL: 'trace' })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  for (const header of [`X-Telegram-Bot-Api-Secret-Token: ${SECRET}`, `Authorization: Bearer ${ADMIN_TOKEN}`]) {
    const socket = connect(port, '127.0.0.1')
    socket.on('error', () => {})
    socket.resume() // the answer is read, so the close arrives
    // A space inside a header name is malformed: Node's parser refuses the request.
    socket.end(`POST /telegram/webhook HTTP/1.1\r\nHost: x\r\n${header}\r\nBad Header: x\r\n\r\n`)
    await once(socket, 'close')
  }
  await waitUntil(() => logs.find('client error').length === 2, 5000, () => `two client error lines, got: ${logs.text}`)
  for (const line of logs.find('client error')) t.notOk('rawPacket' in ((line as { err?: object }).err ?? {}), 'no raw bytes')
  const text = logs.raw.join('')
  t.notOk(text.includes(SECRET), 'no secret')
  t.notOk(text.includes(ADMIN_TOKEN), 'no admin token')
  for (const secret of [SECRET, ADMIN_TOKEN]) {
    const bytes = [...Buffer.from(secret)].join(',')
    t.notOk(text.includes(bytes), 'not even as bytes')
  }
})
