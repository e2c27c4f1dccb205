// The direct client against Telegraf's own: the same requests on the wire, the same results and the
// same errors, and multipart calls still built by Telegraf.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { Telegraf, TelegramError } from 'telegraf'
import { createTelegraf } from '../../src/bot/index.js'
import { callApiDirectly, mayNeedMultipart } from '../../src/telegram/api-client.js'
import { isRetryable, retryAfterSeconds } from '../../src/telegram/errors.js'
import { FAKE_TOKEN } from '../helpers/fake-bot-api.js'
import { within } from '../helpers/wait.js'

interface Seen { method: string, url: string, contentType: string, userAgent: string, body: string }
type Reply = (res: ServerResponse, seen: Seen) => void

const okJson: Reply = (res, seen) => {
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, result: { echo: seen.url.split('/').pop() } }))
}

/** A raw HTTP server that records each request as it came and answers with `reply`. */
interface RawApi { root: string, seen: Seen[], setReply: (r: Reply) => void, connections: () => number }

async function rawApi (t: { teardown: (fn: () => unknown) => void }, reply: Reply = okJson): Promise<RawApi> {
  const seen: Seen[] = []
  let connections = 0
  let current = reply
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const entry = { method: req.method ?? '', url: req.url ?? '', contentType: req.headers['content-type'] ?? '', userAgent: req.headers['user-agent'] ?? '', body: Buffer.concat(chunks).toString('utf8') }
      seen.push(entry)
      current(res, entry)
    })
  })
  server.on('connection', () => { connections++ })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return { root: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, setReply: (r) => { current = r }, connections: () => connections }
}

type Tg = Telegraf['telegram']

/** The service's client (createTelegraf's) and Telegraf's own, for the same root. */
function clients (apiRoot: string): { direct: Tg, telegraf: Tg } {
  const direct = createTelegraf(FAKE_TOKEN, apiRoot).telegram
  // Every comparison below would pass with Telegraf on both sides: make sure ours is ours.
  if (!Object.hasOwn(direct, 'callApi')) throw new Error('createTelegraf did not install its own callApi')
  return { direct, telegraf: new Telegraf(FAKE_TOKEN, { telegram: { apiRoot, webhookReply: false } }).telegram }
}

t.test('a JSON call reaches the same path with the same body as through Telegraf, and returns the result', async (t) => {
  for (const prefix of ['', '/custom/root/']) {
    const api = await rawApi(t)
    const { direct, telegraf } = clients(api.root + prefix)
    const extra = { parse_mode: 'HTML' as const, reply_markup: { inline_keyboard: [[{ text: 'open', url: 'https://example.com' }]] }, link_preview_options: { url: 'https://example.com/p' }, disable_notification: undefined }
    const text = 'hi <b>there</b>, привет 👋'
    const viaDirect = await direct.sendMessage(42, text, extra)
    const viaTelegraf = await telegraf.sendMessage(42, text, extra)
    t.same(viaDirect, { echo: 'sendMessage' })
    t.same(viaDirect, viaTelegraf)
    t.equal(api.seen.length, 2)
    const [ours, theirs] = api.seen as [Seen, Seen]
    t.equal(ours.method, 'POST')
    t.equal(ours.url, theirs.url, `path with apiRoot ${JSON.stringify(prefix)}`)
    t.ok(ours.url.endsWith(`/bot${FAKE_TOKEN}/sendMessage`))
    t.equal(ours.contentType, 'application/json')
    t.same(JSON.parse(ours.body), JSON.parse(theirs.body), 'the same fields, undefined ones left out')
  }
})

t.test('a root with a path keeps all of it, with or without a trailing slash (TELEGRAM_API_ROOT loses its slash in config)', async (t) => {
  const api = await rawApi(t)
  await createTelegraf(FAKE_TOKEN, `${api.root}/tg/proxy`).telegram.getMe()
  await createTelegraf(FAKE_TOKEN, `${api.root}/tg/proxy/`).telegram.getMe()
  await createTelegraf(FAKE_TOKEN, `${api.root}/tg/proxy`).telegram.sendPhoto(1, { source: Buffer.from('x') })
  t.same(api.seen.map((s) => s.url), [`/tg/proxy/bot${FAKE_TOKEN}/getMe`, `/tg/proxy/bot${FAKE_TOKEN}/getMe`, `/tg/proxy/bot${FAKE_TOKEN}/sendPhoto`])
})

t.test('null fields are left out, as Telegraf does', async (t) => {
  const api = await rawApi(t)
  const { direct } = clients(api.root)
  await direct.callApi('sendMessage', { chat_id: 1, text: 'x', reply_markup: null } as never)
  t.same(JSON.parse(api.seen[0]?.body ?? ''), { chat_id: 1, text: 'x' })
})

t.test('Telegram saying no is the same TelegramError as through Telegraf, retry_after included', async (t) => {
  const api = await rawApi(t, (res) => {
    res.writeHead(429, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: false, error_code: 429, description: 'Too Many Requests: retry after 7', parameters: { retry_after: 7 } }))
  })
  const { direct, telegraf } = clients(api.root)
  const ours = await direct.sendMessage(5, 'x').catch((e: unknown) => e)
  const theirs = await telegraf.sendMessage(5, 'x').catch((e: unknown) => e)
  t.type(ours, TelegramError)
  const err = ours as TelegramError
  t.equal(err.code, 429)
  t.equal(err.description, 'Too Many Requests: retry after 7')
  t.equal(retryAfterSeconds(err), 7)
  t.equal(err.message, (theirs as TelegramError).message)
  t.same(err.on, { method: 'sendMessage', payload: { chat_id: 5, text: 'x' } })
  t.same(err.on, (theirs as TelegramError).on)
})

t.test('a 5xx with its own reason phrase gets the same description as through Telegraf', async (t) => {
  const api = await rawApi(t, (res) => { res.writeHead(599, 'Upstream Down', { 'content-type': 'text/plain' }).end('down') })
  const { direct, telegraf } = clients(api.root)
  const ours = await direct.getMe().catch((e: unknown) => e) as TelegramError
  const theirs = await telegraf.getMe().catch((e: unknown) => e) as TelegramError
  t.equal(ours.code, 599)
  t.equal(ours.description, 'Upstream Down')
  t.equal(ours.description, theirs.description)
})

t.test('a 5xx is a TelegramError with the status, whatever its body, and the connection is reused after it', async (t) => {
  const api = await rawApi(t, (res) => { res.writeHead(502, { 'content-type': 'text/html' }).end('<html>bad gateway</html>') })
  const { direct, telegraf } = clients(api.root)
  const ours = await direct.getMe().catch((e: unknown) => e) as TelegramError
  t.type(ours, TelegramError)
  t.equal(ours.code, 502)
  t.equal(ours.description, 'Bad Gateway')
  t.ok(isRetryable(ours))
  api.setReply(okJson)
  t.same(await direct.getMe(), { echo: 'getMe' }, 'the next call works')
  t.equal(api.connections(), 1, 'on the same connection: the 5xx body was read off it')
  api.setReply((res) => { res.writeHead(502, { 'content-type': 'text/html' }).end('<html>bad gateway</html>') })
  const theirs = await telegraf.getMe().catch((e: unknown) => e) as TelegramError
  t.equal(ours.description, theirs.description)
})

t.test('a body that is not JSON is a clear error naming the method and status, without the token', async (t) => {
  const api = await rawApi(t, (res) => { res.writeHead(404, { 'content-type': 'text/html' }).end('<html>not here</html>') })
  const { direct } = clients(api.root)
  const err = await direct.getWebhookInfo().catch((e: unknown) => e)
  t.type(err, Error)
  t.notOk(err instanceof TelegramError)
  t.equal((err as Error).message, 'Bot API getWebhookInfo: HTTP 404 with a body that is not JSON')
})

t.test('no answer: a plain error, retryable, without the token', async (t) => {
  const api = await rawApi(t, (res) => { res.socket?.destroy() })
  const { direct } = clients(api.root)
  const dropped = await direct.getMe().catch((e: unknown) => e) as Error
  t.type(dropped, Error)
  t.notOk(dropped instanceof TelegramError)
  t.ok(isRetryable(dropped))
  t.notMatch(`${dropped.message} ${dropped.stack ?? ''}`, FAKE_TOKEN)

  const closed = clients('http://127.0.0.1:1').direct
  const refused = await closed.getMe().catch((e: unknown) => e) as Error & { code?: string }
  t.equal(refused.code, 'ECONNREFUSED')
  t.ok(isRetryable(refused))
  t.notMatch(`${refused.message} ${refused.stack ?? ''}`, FAKE_TOKEN)
})

t.test('an answer cut off mid-body is an error, not a call that never ends', async (t) => {
  const api = await rawApi(t, (res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' })
    res.write('{"ok":true,"result":')
    setTimeout(() => { res.socket?.destroy() }, 20)
  })
  const { direct } = clients(api.root)
  const err = await within(5000, direct.getMe().catch((e: unknown) => e))
  t.match(err, { code: 'ECONNRESET' }, 'the connection\'s own error, not a half-read body taken as the answer')
  t.ok(isRetryable(err))
})

t.test('a multibyte character split across two chunks of the answer arrives whole', async (t) => {
  const api = await rawApi(t, (res) => {
    const body = Buffer.from(JSON.stringify({ ok: true, result: { text: 'привет 👋' } }))
    const cut = body.indexOf(Buffer.from('👋')) + 2 // inside the emoji's four bytes
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(body.length) })
    res.write(body.subarray(0, cut))
    setTimeout(() => { res.end(body.subarray(cut)) }, 20)
  })
  const { direct } = clients(api.root)
  t.same(await direct.callApi('getMe', {}), { text: 'привет 👋' })
})

t.test('testEnv and an IPv6 apiRoot reach the same path as through Telegraf', async (t) => {
  const api = await rawApi(t)
  const options = { apiRoot: api.root, webhookReply: false, testEnv: true }
  const ours = new Telegraf(FAKE_TOKEN, { telegram: options }).telegram
  callApiDirectly(ours)
  await ours.getMe()
  await new Telegraf(FAKE_TOKEN, { telegram: options }).telegram.getMe()
  t.equal(api.seen[0]?.url, `/bot${FAKE_TOKEN}/test/getMe`)
  t.equal(api.seen[0]?.url, api.seen[1]?.url)
  t.equal(api.seen[0]?.userAgent, '', 'sent by our client, not node-fetch')

  const v6 = createServer((_req, res) => { res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true,"result":"v6"}') })
  const listening = await new Promise<boolean>((resolve) => {
    v6.once('error', () => { resolve(false) })
    v6.listen(0, '::1', () => { resolve(true) })
  })
  if (!listening) {
    t.skip('no IPv6 loopback here', () => {})
    return
  }
  t.teardown(() => new Promise<void>((resolve) => v6.close(() => resolve())))
  const { direct } = clients(`http://[::1]:${(v6.address() as AddressInfo).port}`)
  t.equal(await direct.callApi('getMe', {}), 'v6')
})

t.test('an aborted signal ends a waiting call at once (the poller stops this way)', async (t) => {
  const api = await rawApi(t, () => {}) // never answers, like a long poll
  const { direct } = clients(api.root)
  const abort = new AbortController()
  const started = Date.now()
  setTimeout(() => { abort.abort() }, 50).unref()
  const call = direct.callApi('getUpdates', { timeout: 50 }, { signal: abort.signal as never }).catch((e: unknown) => e)
  const err = await within(5000, call)
  t.type(err, Error)
  t.equal(api.seen.length, 1, 'the call had reached the server')
  t.ok(Date.now() - started >= 49, 'it ended when aborted, not before (timers may fire up to 1 ms early)')
})

t.test('a Bot API that goes silent ends the call with a timeout error, retryable', async (t) => {
  const api = await rawApi(t, () => {})
  const telegram = new Telegraf(FAKE_TOKEN, { telegram: { apiRoot: api.root, webhookReply: false } }).telegram
  callApiDirectly(telegram, 100)
  const started = Date.now()
  const err = await within(5000, telegram.getMe().catch((e: unknown) => e))
  t.type(err, Error)
  t.equal((err as Error).message, 'the Bot API sent nothing for 100 ms')
  t.ok(isRetryable(err))
  t.ok(Date.now() - started >= 99)
})

t.test('calls that carry files still go through Telegraf, as multipart; look-alikes stay JSON', async (t) => {
  const api = await rawApi(t)
  const { direct, telegraf } = clients(api.root)
  const file = { source: Buffer.from('fake image bytes'), filename: 'a.jpg' }
  // [name, call, whether our client sends it itself (else it hands it to Telegraf, whose node-fetch says so in user-agent)]
  const calls: Array<[string, (tg: Tg) => Promise<unknown>, boolean]> = [
    ['sendPhoto with a Buffer', async (tg) => await tg.sendPhoto(1, file), false],
    ['sendDocument by url', async (tg) => await tg.sendDocument(1, { url: `${api.root}/file`, filename: 'd.txt' }), false],
    ['sendMediaGroup', async (tg) => await tg.sendMediaGroup(1, [{ type: 'photo', media: file }, { type: 'photo', media: file }]), false],
    ['editMessageMedia with a file', async (tg) => await tg.editMessageMedia(1, 2, undefined, { type: 'photo', media: file }), false],
    ['sendPhoto by file_id', async (tg) => await tg.sendPhoto(1, 'AgACAgIAAxkBAAIB'), true],
    // An InputMedia object may hold a file, so it goes to Telegraf, which sends this one as JSON.
    ['editMessageMedia by file_id', async (tg) => await tg.editMessageMedia(1, 2, undefined, { type: 'photo', media: 'AgACAgIAAxkBAAIB' }), false],
    ['sendMessage with a link preview url', async (tg) => await tg.sendMessage(1, 'x', { link_preview_options: { url: 'https://example.com' } }), true]
  ]
  for (const [name, call, ourClient] of calls) {
    const sent: Seen[] = []
    for (const tg of [direct, telegraf]) {
      const before = api.seen.length
      await call(tg)
      const last = api.seen.slice(before).filter((s) => s.method === 'POST').at(-1)
      if (last !== undefined) sent.push(last)
    }
    const [ours, theirs] = sent as [Seen, Seen]
    t.equal(ours.contentType.split(';')[0], theirs.contentType.split(';')[0], `${name}: sent as ${theirs.contentType.split(';')[0] ?? ''} by both`)
    t.equal(ours.userAgent.startsWith('node-fetch'), !ourClient, `${name}: ${ourClient ? 'sent by our client' : 'handed to Telegraf'}`)
  }
  t.equal(api.seen.filter((s) => s.contentType.startsWith('multipart/form-data')).length, 8, 'the four file calls were multipart, through both clients')
})

t.test('mayNeedMultipart: files and media are caught, plain values and link previews are not', async (t) => {
  t.equal(mayNeedMultipart(undefined), false)
  t.equal(mayNeedMultipart({ chat_id: 1, text: 'x', reply_markup: { inline_keyboard: [[{ text: 'a', url: 'https://e.com' }]] } }), false)
  t.equal(mayNeedMultipart({ link_preview_options: { url: 'https://e.com' } }), false)
  t.equal(mayNeedMultipart({ photo: 'file_id' }), false)
  t.equal(mayNeedMultipart({ photo: { source: 'path/on/disk.jpg' } }), true)
  t.equal(mayNeedMultipart({ document: { url: 'https://e.com/f' } }), true)
  t.equal(mayNeedMultipart({ media: { type: 'photo', media: { source: Buffer.alloc(1) } } }), true)
  t.equal(mayNeedMultipart({ media: [{ type: 'photo', media: { url: 'https://e.com/p.jpg' } }] }), true)
  t.equal(mayNeedMultipart({ media: [{ type: 'photo', media: 'file_id' }] }), false)
})

t.test('an https apiRoot is called over TLS, and a certificate nobody vouches for is refused', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'api-client-tls-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' })
  } catch {
    t.skip('openssl is not installed', () => {})
    return
  }
  let requests = 0
  const server = createHttpsServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (_req, res) => {
    requests++
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true,"result":true}')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const { direct } = clients(`https://127.0.0.1:${(server.address() as AddressInfo).port}`)
  const err = await direct.getMe().catch((e: unknown) => e) as Error & { code?: string }
  t.equal(err.code, 'DEPTH_ZERO_SELF_SIGNED_CERT', 'the TLS handshake checked the certificate')
  t.equal(requests, 0, 'nothing was sent over an unverified connection')
})
