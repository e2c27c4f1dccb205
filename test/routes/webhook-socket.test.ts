// The webhook on a real socket: what the route does with the connection itself (keep-alive, bodies
// it refuses unread, bodies that never end), which an injected request cannot show.
import { connect, type AddressInfo, type Socket } from 'node:net'
import t from 'tap'
import { buildTestApp, SECRET, textUpdate, type Teardown } from '../helpers/app.js'
import { pause, waitUntil, within } from '../helpers/wait.js'

async function listening (t: Teardown): Promise<Awaited<ReturnType<typeof buildTestApp>> & { port: number }> {
  const built = await buildTestApp(t)
  await built.app.listen({ port: 0, host: '127.0.0.1' })
  return { ...built, port: (built.app.server.address() as AddressInfo).port }
}

/** One raw connection: what was written back, and whether the server closed it. */
class Conn {
  readonly socket: Socket
  text = ''
  closed: Promise<'closed'>

  /** Destroyed when the test ends, before the app closes (teardowns run last first), so a
   * connection the server wrongly keeps open fails the test instead of holding close() for 72 s. */
  constructor (t: Teardown, port: number) {
    this.socket = connect(port, '127.0.0.1')
    t.teardown(() => this.socket.destroy())
    this.socket.setEncoding('utf8')
    this.socket.on('data', (chunk: string) => { this.text += chunk })
    this.socket.on('error', () => {})
    this.closed = new Promise((resolve) => this.socket.on('close', () => { resolve('closed') }))
  }

  /** Status codes of the responses received so far, in order. */
  statuses (): number[] {
    return [...this.text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]))
  }
}

function head (lines: string[]): string {
  return lines.join('\r\n') + '\r\n\r\n'
}

function post (body: string, secret: string | null = SECRET, extra: string[] = []): string {
  return head([
    'POST /telegram/webhook HTTP/1.1',
    'Host: 127.0.0.1',
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...(secret !== null ? [`X-Telegram-Bot-Api-Secret-Token: ${secret}`] : []),
    ...extra
  ]) + body
}

async function until (conn: Conn, count: number): Promise<void> {
  await waitUntil(() => conn.statuses().length >= count, 5000, () => `${count} responses, got: ${conn.text}`)
}

t.test('updates share one keep-alive connection, with the keep-alive timeout Fastify would set', async (t) => {
  const { app, port } = await listening(t)
  const conn = new Conn(t, port)
  conn.socket.write(post(JSON.stringify(textUpdate('one', 1, 30001))))
  await until(conn, 1)
  conn.socket.write(post(JSON.stringify(textUpdate('two', 2, 30002))))
  await until(conn, 2)
  t.same(conn.statuses(), [200, 200], 'both acked on the same socket')
  t.match(conn.text, /Keep-Alive: timeout=72/, '72 s, above Caddy\'s and Telegram\'s idle times')
  t.equal(app.ingress.stats.accepted, 2)
  t.equal(await within(50, conn.closed), 'still waiting', 'the connection stays open')
})

t.test('a query string does not hide the webhook path', async (t) => {
  const { app, port } = await listening(t)
  const conn = new Conn(t, port)
  const body = JSON.stringify(textUpdate('q', 3, 30003))
  conn.socket.write(post(body).replace('POST /telegram/webhook ', 'POST /telegram/webhook?from=caddy '))
  await until(conn, 1)
  t.same(conn.statuses(), [200])
  t.equal(app.ingress.stats.accepted, 1)
})

t.test('refused unread (no secret, a Content-Length over the limit): answered, then the connection is closed', async (t) => {
  const { app, port } = await listening(t)
  const unsigned = new Conn(t, port)
  // Only the head and a first piece of a body announced as 2 MiB: the answer must not wait for the rest.
  unsigned.socket.write(post('', null, []).replace('Content-Length: 0', `Content-Length: ${2 * 1024 * 1024}`) + '{"update_id":')
  await until(unsigned, 1)
  t.same(unsigned.statuses(), [401])
  t.equal(await within(2000, unsigned.closed), 'closed', 'closed instead of reading 2 MiB to keep the socket')

  const huge = new Conn(t, port)
  huge.socket.write(post('', SECRET).replace('Content-Length: 0', `Content-Length: ${2 * 1024 * 1024}`))
  await until(huge, 1)
  t.same(huge.statuses(), [413])
  t.match(huge.text, /larger than 1048576 bytes/)
  t.equal(await within(2000, huge.closed), 'closed')
  t.equal(app.ingress.stats.accepted, 0)
})

t.test('a chunked body that goes past 1 MiB is 413 as soon as it does, and the connection is closed', async (t) => {
  const { app, port, logs } = await listening(t)
  const conn = new Conn(t, port)
  conn.socket.write(head([
    'POST /telegram/webhook HTTP/1.1', 'Host: 127.0.0.1', 'Content-Type: application/json',
    'Transfer-Encoding: chunked', `X-Telegram-Bot-Api-Secret-Token: ${SECRET}`
  ]))
  const piece = 'x'.repeat(64 * 1024)
  // 17 pieces of 64 KiB: past the limit with the 17th; the terminating chunk is never sent.
  for (let i = 0; i < 17 && conn.statuses().length === 0; i++) {
    conn.socket.write(`${piece.length.toString(16)}\r\n${piece}\r\n`)
    await pause(2)
  }
  await until(conn, 1)
  t.same(conn.statuses(), [413])
  t.equal(await within(2000, conn.closed), 'closed')
  t.equal(app.ingress.stats.accepted, 0)
  t.equal(logs.find('request rejected').length, 1)
})

t.test('a client that hangs up mid-body costs nothing: no answer, nothing taken, the next update is fine', async (t) => {
  const { app, port } = await listening(t)
  const gone = new Conn(t, port)
  // A whole update, but shorter than the 500 bytes announced: the body never ends.
  const cut = JSON.stringify(textUpdate('cut', 4, 30006))
  gone.socket.write(post('', SECRET).replace('Content-Length: 0', 'Content-Length: 500') + cut)
  await pause(20)
  gone.socket.destroy()
  await gone.closed

  const next = new Conn(t, port)
  next.socket.write(post(JSON.stringify(textUpdate('after', 4, 30004))))
  await until(next, 1)
  t.same(next.statuses(), [200])
  t.equal(app.ingress.stats.accepted, 1, 'only the complete update was taken')
})

t.test('other paths still go to Fastify (its 404 names the routes); a GET on the webhook is 405', async (t) => {
  const { port } = await listening(t)
  const conn = new Conn(t, port)
  conn.socket.write(head(['GET /telegram/webhooks HTTP/1.1', 'Host: 127.0.0.1']))
  await until(conn, 1)
  t.same(conn.statuses(), [404])
  t.match(conn.text, /this service serves \/telegram\/webhook/)
  conn.socket.write(head(['GET /telegram/webhook HTTP/1.1', 'Host: 127.0.0.1']))
  await until(conn, 2)
  t.same(conn.statuses(), [404, 405], 'a GET on the webhook is 405 (the guide\'s first check)')
  t.match(conn.text, /allow: POST/i)
})

t.test('a request pipelined behind a refusal that closes the connection is not taken (it could never be answered)', async (t) => {
  const { app, port } = await listening(t)
  const conn = new Conn(t, port)
  conn.socket.write(post('{}', null) + post(JSON.stringify(textUpdate('behind', 5, 30005))))
  await until(conn, 1)
  t.equal(await within(2000, conn.closed), 'closed')
  t.same(conn.statuses(), [401])
  t.equal(app.ingress.stats.accepted, 0, 'Telegram resends it on a new connection')
})

t.test('URL forms Fastify\'s router took reach the webhook too: absolute form, percent-encoding, a fragment', async (t) => {
  const { app, port } = await listening(t)
  const forms = ['http://bot.example.com/telegram/webhook', '/telegram/%77ebhook', '/telegram/webhook#x', 'http://bot.example.com/telegram/webhook?a=1']
  for (const [i, form] of forms.entries()) {
    const conn = new Conn(t, port)
    conn.socket.write(post(JSON.stringify(textUpdate('form', 6, 30010 + i))).replace('POST /telegram/webhook ', `POST ${form} `))
    await until(conn, 1)
    t.same(conn.statuses(), [200], form)
  }
  t.equal(app.ingress.stats.accepted, forms.length)
  const other = new Conn(t, port)
  other.socket.write(post('{}').replace('POST /telegram/webhook ', 'POST /telegram/webhook%2F '))
  await until(other, 1)
  t.same(other.statuses(), [404], 'an encoded slash is another path')
})

// Node's parser and its Expect check answer before any route; Fastify's answer says "Client Error",
// Node's 417 has no body at all. Every refusal names its reason (README, Routes).
t.test('requests refused before any route get the error shape with the reason: malformed, headers too large, an unknown Expect', async (t) => {
  const { app, port } = await listening(t)
  const body = JSON.stringify(textUpdate('framing', 7, 30020))
  const cases: Array<[string, string, number, RegExp]> = [
    ['two Content-Lengths', post(body).replace('Content-Length:', 'Content-Length: 1\r\nContent-Length:'), 400, /^Malformed HTTP request: Duplicate Content-Length$/],
    ['Content-Length and chunked', post(body, SECRET, ['Transfer-Encoding: chunked']), 400, /^Malformed HTTP request: Transfer-Encoding can't be present with Content-Length$/],
    ['a chunk size that is not hex', head(['POST /telegram/webhook HTTP/1.1', 'Host: x', 'Content-Type: application/json', 'Transfer-Encoding: chunked', `X-Telegram-Bot-Api-Secret-Token: ${SECRET}`]) + 'zz\r\n', 400, /^Malformed HTTP request: Invalid character in chunk size$/],
    ['a header line without a colon', post(body, SECRET, ['Whatever']), 400, /^Malformed HTTP request: Invalid header token$/],
    ['the HTTP/2 preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 400, /HTTP\/2 without TLS is not served here/],
    ['headers over 16 KiB', post(body, SECRET, [`X-Big: ${'a'.repeat(17_000)}`]), 431, /^Request headers larger than 16384 bytes$/],
    ['Expect: tea', post(body, SECRET, ['Expect: tea']), 417, /^Only "Expect: 100-continue" is supported/]
  ]
  for (const [what, request, status, message] of cases) {
    const conn = new Conn(t, port)
    conn.socket.write(request)
    t.equal(await within(2000, conn.closed), 'closed', `${what}: answered, then closed`)
    t.same(conn.statuses(), [status], what)
    t.match(conn.text, /\r\ncontent-type: application\/json\r\n/i, what)
    const answer = JSON.parse(conn.text.slice(conn.text.indexOf('\r\n\r\n') + 4)) as { statusCode: number, message: string }
    t.equal(answer.statusCode, status, what)
    t.match(answer.message, message, what)
  }
  t.equal(app.ingress.stats.accepted, 0)
})
