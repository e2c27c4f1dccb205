// The connection deadlines and the cap on open connections (src/server-limits.ts), on real sockets:
// a client that trickles its request is cut, with or without the secret, and real updates keep
// flowing meanwhile; past HTTP_MAX_CONNECTIONS a connection is refused and logged once.
import { readFileSync } from 'node:fs'
import { connect, type AddressInfo, type Socket } from 'node:net'
import t from 'tap'
import { SERVER_LIMITS, type ServerLimits } from '../src/server-limits.js'
import { buildTestApp, postUpdate, SECRET, textUpdate, type Teardown } from './helpers/app.js'
import { pause, waitUntil, within } from './helpers/wait.js'

const SHORT = { requestTimeoutMs: 600, headersTimeoutMs: 300, checkIntervalMs: 50 }

async function listening (t: Teardown, env: Record<string, string> = {}, serverLimits: Partial<ServerLimits> = SHORT): Promise<Awaited<ReturnType<typeof buildTestApp>> & { port: number }> {
  const built = await buildTestApp(t, env, { serverLimits, warningIntervalMs: 200 })
  await built.app.listen({ port: 0, host: '127.0.0.1' })
  return { ...built, port: (built.app.server.address() as AddressInfo).port }
}

/** A raw connection; what came back, and a promise of its close. */
function open (t: Teardown, port: number): { socket: Socket, text: () => string, closed: Promise<'closed'> } {
  const socket = connect(port, '127.0.0.1')
  t.teardown(() => socket.destroy())
  let text = ''
  socket.setEncoding('utf8')
  socket.on('data', (chunk: string) => { text += chunk })
  socket.on('error', () => {})
  const closed = new Promise<'closed'>((resolve) => socket.on('close', () => { resolve('closed') }))
  return { socket, text: () => text, closed }
}

/** Writes one byte every `everyMs` until the socket closes (or `max` bytes). */
function trickle (socket: Socket, everyMs: number, max = 10_000): void {
  let sent = 0
  const timer = setInterval(() => {
    if (socket.destroyed || ++sent > max) clearInterval(timer)
    else socket.write('x')
  }, everyMs)
  socket.on('close', () => { clearInterval(timer) })
}

t.test('the limits reach Node\'s server; the keep-alive outlasts Caddy\'s idle connections to it', async (t) => {
  const { app } = await listening(t, {}, {})
  t.equal(app.server.requestTimeout, SERVER_LIMITS.requestTimeoutMs)
  t.equal(app.server.headersTimeout, SERVER_LIMITS.headersTimeoutMs)
  t.equal(app.server.keepAliveTimeout, SERVER_LIMITS.keepAliveTimeoutMs)
  t.equal(app.server.maxConnections, SERVER_LIMITS.maxConnections, 'HTTP_MAX_CONNECTIONS unset: the default')
  // Caddy must drop an idle connection to the ingress before the ingress does, or it may send a
  // request on one the ingress just closed (a 502 for Telegram).
  const caddyKeepalive = /reverse_proxy \{\$INGRESS_UPSTREAM[\s\S]*?keepalive (\d+)s/.exec(readFileSync(new URL('../Caddyfile', import.meta.url), 'utf8'))?.[1]
  t.ok(caddyKeepalive !== undefined, 'the Caddyfile sets the keep-alive of its connections to the ingress')
  t.ok(SERVER_LIMITS.keepAliveTimeoutMs > Number(caddyKeepalive) * 1000, `ours (${SERVER_LIMITS.keepAliveTimeoutMs} ms) above Caddy's (${caddyKeepalive} s)`)
  t.ok(SERVER_LIMITS.headersTimeoutMs <= SERVER_LIMITS.requestTimeoutMs, 'Node requires the headers deadline within the request\'s')
})

t.test('a body trickled a byte at a time is cut at the request deadline: without the secret, and with it', async (t) => {
  const { app, port } = await listening(t)
  const started = Date.now()
  const stranger = open(t, port)
  stranger.socket.write('GET /telegram/webhook-info HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n')
  trickle(stranger.socket, 50)
  const signed = open(t, port)
  signed.socket.write(`POST /telegram/webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\nX-Telegram-Bot-Api-Secret-Token: ${SECRET}\r\n\r\n{"update_id":1,`)
  trickle(signed.socket, 50)
  t.equal(await within(5000, stranger.closed), 'closed', 'the stranger is cut')
  t.equal(await within(5000, signed.closed), 'closed', 'so is a client with the secret')
  t.ok(Date.now() - started >= SHORT.requestTimeoutMs - 1, 'not before the deadline')
  t.match(stranger.text(), /HTTP\/1\.1 408 Request Timeout/, 'answered (webhook-info needs no body), then 408 for the body that never ends')
  t.match(stranger.text(), /"message":"Request not received in time: the headers must arrive within 0.3 s and the whole request within 0.6 s"/, 'the 408 names the deadlines')
  t.equal(app.ingress.stats.accepted, 0)
})

t.test('headers trickled a byte at a time are cut at the headers deadline', async (t) => {
  const { port } = await listening(t)
  const slow = open(t, port)
  slow.socket.write('POST /telegram/webhook HTTP/1.1\r\nX-Slow: ')
  trickle(slow.socket, 30)
  t.equal(await within(5000, slow.closed), 'closed')
  t.match(slow.text(), /^HTTP\/1\.1 408/)
})

t.test('real updates keep flowing while 1000 slow clients are connected', async (t) => {
  // The defaults, so the slow clients are still connected while the updates go through.
  const { app, port } = await listening(t, {}, { ...SHORT, requestTimeoutMs: 30_000, headersTimeoutMs: 10_000 })
  const slow = Array.from({ length: 1000 }, () => open(t, port))
  for (const conn of slow) conn.socket.write('POST /telegram/webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n')
  await waitUntil(() => slow.every((c) => c.socket.writableLength === 0 && !c.socket.connecting), 10_000, () => 'the slow clients to connect')
  const statuses = []
  for (let i = 0; i < 50; i++) statuses.push((await postUpdate(app, textUpdate('real', 700 + i, 80_000 + i))).statusCode)
  const over = await fetch(`http://127.0.0.1:${port}/telegram/webhook`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': SECRET }, body: JSON.stringify(textUpdate('over a socket', 799, 80_100)) })
  t.same(new Set(statuses), new Set([200]), '50 updates, all 200')
  t.equal(over.status, 200, 'and one over a real socket beside the 1000')
  t.equal(slow.filter((c) => c.socket.destroyed).length, 0, 'the slow clients were still connected')
})

t.test('past HTTP_MAX_CONNECTIONS a connection is refused at once, and logged once per interval', async (t) => {
  const { port, logs } = await listening(t, { HTTP_MAX_CONNECTIONS: '5' }, { ...SHORT, requestTimeoutMs: 30_000, headersTimeoutMs: 10_000 })
  const held = Array.from({ length: 5 }, () => open(t, port))
  await waitUntil(() => held.every((c) => !c.socket.connecting), 5000, () => 'five connections')
  await pause(50)
  const refused = [open(t, port), open(t, port), open(t, port)]
  for (const conn of refused) t.equal(await within(5000, conn.closed), 'closed', 'closed at once')
  t.equal(held.filter((c) => c.socket.destroyed).length, 0, 'the five stay open')
  const lines = logs.find('connection refused')
  t.equal(lines.length, 1, 'one line at once, the rest counted')
  t.match(lines[0], { level: 40, msg: /5 connections are open, the most HTTP_MAX_CONNECTIONS allows/ })
  await waitUntil(() => logs.find('connection refused').length === 2, 3000, () => 'the count line')
  t.match(logs.find('connection refused')[1], { repeated: 2 })
})
