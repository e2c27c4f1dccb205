// createTelegraf: the bot the ingress hands updates to, on Telegraf's own client. What the service
// relies on: bot.handleUpdate with the bot's context, errors that reach the ingress (or a feature's
// own bot.catch), the API root kept whole, calls that end when aborted, and at most MAX_API_SOCKETS
// connections to an https Bot API that hangs.
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https'
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net'
import t, { type Test } from 'tap'
import type { Context } from 'telegraf'
import { BotApiAgent, createTelegraf, MAX_API_SOCKETS } from '../../src/bot/index.js'
import { FAKE_BOT, FAKE_TOKEN, startTestBotApi } from '../helpers/bot-api.js'
import { typedTextUpdate as update, type Teardown } from '../helpers/app.js'
import { selfSignedCertificate, type Certificate } from '../helpers/tls.js'
import { waitUntil, within } from '../helpers/wait.js'

async function listen (t: Teardown, server: { listen: (port: number, host: string, cb: () => void) => unknown, address: () => unknown, close: (cb: () => void) => unknown }): Promise<number> {
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve) })
  t.teardown(() => new Promise<void>((resolve) => { server.close(() => { resolve() }) }))
  return (server.address() as AddressInfo).port
}

/** A certificate for 127.0.0.1, removed when the test ends; without openssl the test is skipped. */
function certificateFor (t: Test): Certificate | undefined {
  const certificate = selfSignedCertificate()
  if (certificate === undefined) t.skip('openssl is not installed', () => {})
  else t.teardown(certificate.remove)
  return certificate
}

t.test('handleUpdate runs the middleware with the bot\'s context, botInfo and client options; the reply goes out', async (t) => {
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
  api.learnChatsOf(hello) // the emulator answers "chat not found" for a chat it never saw
  await bot.handleUpdate(hello)
  const ctx = seen[0]
  t.equal(ctx?.update.update_id, 1001)
  t.equal(ctx?.me, FAKE_BOT.username, 'botInfo is the bot\'s')
  t.equal((ctx as unknown as Record<string, unknown>).fromBotContext, 'set on bot.context')
  t.equal(ctx?.telegram.webhookReply, false, 'replies are Bot API calls, never hidden in the webhook answer')
  t.match(api.callsOf('sendMessage'), [{ params: { chat_id: 42, text: 'echo hello' } }], 'the reply went out')
})

t.test('a handler\'s error reaches the caller (the ingress logs it), unless a feature set its own bot.catch', async (t) => {
  const bot = createTelegraf(FAKE_TOKEN, 'http://127.0.0.1:9')
  bot.botInfo = FAKE_BOT
  bot.on('message', () => { throw new Error('handler broke') })
  await t.rejects(bot.handleUpdate(update('x', 1, 1)), { message: 'handler broke' })

  const caught: Array<{ message: string, updateId: number }> = []
  bot.catch((err, ctx) => { caught.push({ message: (err as Error).message, updateId: ctx.update.update_id }) })
  await bot.handleUpdate(update('x', 1, 7))
  t.same(caught, [{ message: 'handler broke', updateId: 7 }], 'caught by the bot, so it does not reach the ingress')
})

t.test('without botInfo (start-up checks not run) handleUpdate calls getMe once', async (t) => {
  const api = await startTestBotApi()
  t.teardown(async () => { await api.close() })
  const bot = createTelegraf(FAKE_TOKEN, api.apiRoot)
  const handled: number[] = []
  bot.on('message', (ctx) => { handled.push(ctx.update.update_id) })
  await bot.handleUpdate(update('a', 1, 1))
  await bot.handleUpdate(update('b', 1, 2))
  t.same(handled, [1, 2])
  t.equal(api.callsOf('getMe').length, 1)
})

t.test('a root with a path keeps all of it, with or without a trailing slash (TELEGRAM_API_ROOT loses its slash in config)', async (t) => {
  const urls: string[] = []
  const server = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
    urls.push(req.url ?? '')
    req.resume()
    req.on('end', () => { res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true,"result":true}') })
  })
  const root = `http://127.0.0.1:${await listen(t, server)}`
  await createTelegraf(FAKE_TOKEN, `${root}/tg/proxy`).telegram.getMe()
  await createTelegraf(FAKE_TOKEN, `${root}/tg/proxy/`).telegram.getMe()
  await createTelegraf(FAKE_TOKEN, `${root}/tg/proxy`).telegram.sendPhoto(1, { source: Buffer.from('x') })
  t.same(urls, [`/tg/proxy/bot${FAKE_TOKEN}/getMe`, `/tg/proxy/bot${FAKE_TOKEN}/getMe`, `/tg/proxy/bot${FAKE_TOKEN}/sendPhoto`])
})

t.test('an aborted signal ends a waiting call at once (the poller and the health route stop calls this way)', async (t) => {
  let requests = 0
  const server = createHttpServer(() => { requests++ }) // never answers, like a long poll
  const port = await listen(t, server)
  t.teardown(() => { server.closeAllConnections() })
  const abort = new AbortController()
  const started = Date.now()
  setTimeout(() => { abort.abort() }, 50).unref()
  const call = createTelegraf(FAKE_TOKEN, `http://127.0.0.1:${port}`).telegram.callApi('getUpdates', { timeout: 50 }, { signal: abort.signal as never }).catch((e: unknown) => e)
  const err = await within(5000, call)
  t.type(err, Error)
  t.equal(requests, 1, 'the call had reached the server')
  t.ok(Date.now() - started >= 49, 'it ended when aborted, not before (timers may fire up to 1 ms early)')
})

t.test(`an https Bot API that hangs gets at most ${MAX_API_SOCKETS} connections; the other calls wait`, async (t) => {
  const sockets = new Set<Socket>()
  // Accepts connections and never starts TLS: every call hangs, holding its socket.
  const server = createTcpServer((socket) => { sockets.add(socket); socket.on('error', () => {}) })
  const port = await listen(t, server)
  t.teardown(() => { for (const s of sockets) s.destroy() })
  const telegram = createTelegraf(FAKE_TOKEN, `https://127.0.0.1:${port}`).telegram
  const abort = new AbortController()
  const calls = Array.from({ length: MAX_API_SOCKETS + 50 }, async () => await telegram.callApi('getMe', {}, { signal: abort.signal as never }).catch(() => 'ended'))
  await waitUntil(() => sockets.size >= MAX_API_SOCKETS, 10_000, () => `${MAX_API_SOCKETS} connections, got ${sockets.size}`)
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.equal(sockets.size, MAX_API_SOCKETS, 'no connection beyond the bound, though 50 more calls are waiting')
  abort.abort()
  t.same(new Set(await within(5000, Promise.all(calls))), new Set(['ended']), 'every call ends once aborted')
})

t.test('an https apiRoot is called over TLS, and a certificate nobody vouches for is refused', async (t) => {
  const certificate = certificateFor(t)
  if (certificate === undefined) return
  let requests = 0
  const server = createHttpsServer({ key: certificate.key, cert: certificate.cert }, (_req, res) => {
    requests++
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true,"result":true}')
  })
  const port = await listen(t, server)
  const err = await createTelegraf(FAKE_TOKEN, `https://127.0.0.1:${port}`).telegram.getMe().catch((e: unknown) => e) as Error & { code?: string }
  t.match(err.message, /self[- ]signed certificate/, 'the TLS handshake checked the certificate')
  t.equal(requests, 0, 'nothing was sent over an unverified connection')
})

t.test('an https Bot API that goes silent: each call ends after the silence deadline, and its socket is closed', async (t) => {
  const sockets = new Set<Socket>()
  let closed = 0
  // Accepts connections and never starts TLS, as a hanging Telegram would.
  const server = createTcpServer((socket) => {
    sockets.add(socket)
    socket.on('error', () => {})
    socket.on('close', () => { closed++ })
    socket.resume() // reads the ClientHello and, later, the close
  })
  const port = await listen(t, server)
  t.teardown(() => { for (const s of sockets) s.destroy() })
  const agent = new BotApiAgent(150)
  const telegram = createTelegraf(FAKE_TOKEN, `https://127.0.0.1:${port}`, agent).telegram
  const started = Date.now()
  const errors = await within(5000, Promise.all(Array.from({ length: 5 }, async () => await telegram.getMe().then(() => undefined, (e: unknown) => e as Error))))
  t.ok(Array.isArray(errors), 'every call ended')
  for (const err of Array.isArray(errors) ? errors : []) t.match(err?.message, /the Bot API sent nothing for 150 ms/)
  t.ok(Date.now() - started >= 149, 'not before the deadline')
  await waitUntil(() => closed === 5, 2000, () => `the five connections closed, ${closed} so far`)
  t.equal(agent.openSockets, 0, 'nothing left open')
})

// Node's agent sets a socket's timeout to its own idle one (none here) when the socket goes back to
// the pool, and sets nothing when it is reused: the deadline must come back for every call on a
// kept connection, not only for the connection's first. Found by the probe (npm run probe).
t.test('a kept https connection that answered once, then goes silent: the next call on it ends at the deadline too', async (t) => {
  const certificate = certificateFor(t)
  if (certificate === undefined) return
  let requests = 0
  const connections = new Set<Socket>()
  const server = createHttpsServer({ key: certificate.key, cert: certificate.cert }, (_req, res) => {
    // The first call is answered; the second never is.
    if (++requests === 1) res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true,"result":true}')
  })
  server.on('secureConnection', (socket: Socket) => { connections.add(socket) })
  const port = await listen(t, server)
  t.teardown(() => { for (const s of connections) s.destroy() })
  const agent = new BotApiAgent(150)
  const call = async (): Promise<string> => await new Promise((resolve) => {
    const req = httpsRequest({ host: '127.0.0.1', port, method: 'POST', path: '/bot/getMe', agent, ca: certificate.cert }, (res) => {
      res.resume()
      res.on('end', () => { resolve(`answered ${res.statusCode ?? 0}`) })
    })
    req.on('error', (err) => { resolve(err.message) })
    req.end()
  })
  t.equal(await call(), 'answered 200')
  await waitUntil(() => agent.openSockets === 1 && Object.keys(agent.freeSockets).length === 1, 2000, () => 'the connection back in the pool')
  const started = Date.now()
  t.match(await within(5000, call()), /the Bot API sent nothing for 150 ms/, 'the reused connection had the deadline too')
  t.ok(Date.now() - started >= 149, 'not before it')
  t.equal(connections.size, 1, 'both calls went over the one kept connection')
  t.equal(requests, 2)
})
