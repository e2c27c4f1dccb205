// The repo's Caddyfile, run by the real caddy binary on a loopback HTTP address, in front of the
// real ingress (in-process, against the Bot API emulator), a stub of the main backend and a Mini App
// build: the old guide's troubleshooting steps, and the rest of the site, checked through Caddy.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, request, type IncomingHttpHeaders } from 'node:http'
import { connect, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { ADMIN_TOKEN, SECRET, textUpdate, WEBHOOK_URL } from '../helpers/app.js'
import type { TestBotApi } from '../helpers/bot-api.js'
import { freePort, needTool, repoPath, startIngress, type Teardown } from './tools.js'

interface Answer { status: number, headers: IncomingHttpHeaders, body: string }

/** One HTTP request with the path sent exactly as given (fetch would normalise /a/../b and %-escapes). */
async function send (port: number, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
  return await new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
}

interface Backend { host: string, seen: Array<{ method: string, url: string }> }

/** The main backend: records what reaches it and answers 401, as an API without a user token does. */
async function startBackendStub (t: Teardown): Promise<Backend> {
  const seen: Backend['seen'] = []
  const server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '' })
    res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ statusCode: 401, message: 'backend stub: Unauthorized' }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return { host: `127.0.0.1:${(server.address() as AddressInfo).port}`, seen }
}

const INDEX_HTML = '<!doctype html><title>Mini App</title><div id="app">mini-app-index</div>'
const APP_JS = 'console.log("mini-app-bundle")'

async function writeMiniApp (dir: string): Promise<void> {
  await mkdir(join(dir, 'assets'), { recursive: true })
  await writeFile(join(dir, 'index.html'), INDEX_HTML)
  await writeFile(join(dir, 'assets', 'app.js'), APP_JS)
}

/** caddy run with the repo's Caddyfile; everything it writes stays under `home`. */
async function startCaddy (t: Teardown, home: string, env: Record<string, string>): Promise<number> {
  const port = await freePort()
  const child: ChildProcess = spawn('caddy', ['run', '--config', repoPath('Caddyfile'), '--adapter', 'caddyfile'], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home,
      XDG_DATA_HOME: join(home, 'data'),
      XDG_CONFIG_HOME: join(home, 'config'),
      DOMAIN: `http://127.0.0.1:${port}`,
      CADDY_BIND: '127.0.0.1',
      CADDY_ADMIN: 'off',
      ...env
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  const keep = (chunk: Buffer): void => { output = (output + chunk.toString('utf8')).slice(-20_000) }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  t.teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGTERM')
    const killed = await Promise.race([exited.then(() => true), sleep(5000, false)])
    if (!killed) child.kill('SIGKILL')
  })

  const deadline = Date.now() + 15_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`caddy exited with ${child.exitCode} before serving:\n${output}`)
    try {
      await send(port, 'GET', '/')
      return port
    } catch {
      if (Date.now() > deadline) throw new Error(`caddy did not answer on 127.0.0.1:${port} within 15 s:\n${output}`)
      await sleep(100)
    }
  }
}

interface Site {
  port: number
  api: TestBotApi
  ingressPort: number
  backend: Backend
}

async function startSite (t: Teardown): Promise<Site> {
  const home = await mkdtemp(join(tmpdir(), 'ingress-caddy-'))
  t.teardown(() => rm(home, { recursive: true, force: true }))
  const miniApp = join(home, 'mini-app')
  await writeMiniApp(miniApp)

  const { api, port: ingressPort } = await startIngress(t)
  const backend = await startBackendStub(t)
  const port = await startCaddy(t, home, {
    INGRESS_UPSTREAM: `127.0.0.1:${ingressPort}`,
    BACKEND_UPSTREAM: backend.host,
    MINI_APP_ROOT: miniApp,
    // Short, so the slow-client test ends in seconds; the shipped values are 10 s and 30 s.
    CADDY_READ_HEADER_TIMEOUT: '1s',
    CADDY_READ_BODY_TIMEOUT: '2s'
  })
  return { port, api, ingressPort, backend }
}

const caddy = needTool(t, 'caddy', 'caddy')

t.test(`through a real Caddy (${caddy.version || 'absent'}) with the repo's Caddyfile`, { skip: caddy.skip }, async (t) => {
  const { port, api, ingressPort, backend } = await startSite(t)
  const json = { 'content-type': 'application/json' }

  t.test('a client trickling its request is cut by Caddy\'s deadlines, with and without the secret', async (t) => {
    const started = Date.now()
    const cut = async (head: string): Promise<string> => {
      const socket = connect(port, '127.0.0.1')
      t.teardown(() => socket.destroy())
      socket.on('error', () => {})
      let text = ''
      socket.on('data', (chunk: Buffer) => { text += chunk.toString('utf8') })
      const closed = new Promise<string>((resolve) => socket.on('close', () => { resolve(text) }))
      socket.write(head)
      const timer = setInterval(() => { if (!socket.destroyed) socket.write('x') }, 100)
      socket.on('close', () => { clearInterval(timer) })
      const result = await Promise.race([closed, sleep(10_000, 'still open after 10 s')])
      clearInterval(timer)
      return result
    }
    const body = 'Content-Type: application/json\r\nContent-Length: 1000000\r\n'
    const [stranger, signed, header] = await Promise.all([
      cut(`POST /api/telegram/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\n${body}\r\n{`),
      cut(`POST /api/telegram/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\n${body}X-Telegram-Bot-Api-Secret-Token: ${SECRET}\r\n\r\n{`),
      cut('GET /api/telegram/webhook-info HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ')
    ])
    t.not(stranger, 'still open after 10 s', 'without the secret: cut')
    t.not(signed, 'still open after 10 s', 'with the secret: cut')
    t.not(header, 'still open after 10 s', 'headers trickled: cut')
    t.ok(Date.now() - started >= 900, 'not before the deadlines')
  })

  t.test('GET and HEAD on /api/telegram/webhook are 405 from the ingress (the old guide\'s step 1)', async (t) => {
    const get = await send(port, 'GET', '/api/telegram/webhook')
    t.equal(get.status, 405)
    t.equal(get.headers.allow, 'POST')
    t.match(JSON.parse(get.body), { statusCode: 405, message: 'GET is not allowed on /telegram/webhook: use POST' }, 'the ingress saw the path without /api')
    const head = await send(port, 'HEAD', '/api/telegram/webhook')
    t.equal(head.status, 405, 'curl -I, as the guide runs it')
  })

  t.test('a signed POST is acked 200 and handled: the bot answers /start; an unsigned one is 401', async (t) => {
    const before = api.callsOf('sendMessage').length
    const start = textUpdate('/start', 4242)
    api.learnChatsOf(start)
    const signed = await send(port, 'POST', '/api/telegram/webhook', { ...json, 'x-telegram-bot-api-secret-token': SECRET }, JSON.stringify(start))
    t.equal(signed.status, 200)
    t.equal(signed.body, '')
    const replies = api.callsOf('sendMessage').slice(before)
    t.equal(replies.length, 1, 'the bot sent one message')
    t.equal(replies[0]?.params.chat_id, 4242)
    t.match(String(replies[0]?.params.text), /^Welcome, Ada!/)

    const unsigned = await send(port, 'POST', '/api/telegram/webhook', json, JSON.stringify(textUpdate('/start', 4243)))
    t.equal(unsigned.status, 401)
    t.match(JSON.parse(unsigned.body), { message: 'Missing X-Telegram-Bot-Api-Secret-Token header' })
    t.equal(api.callsOf('sendMessage').length, before + 1, 'nothing more reached the bot')
  })

  t.test('/api/telegram/webhook-info is the ingress\'s health report', async (t) => {
    const res = await send(port, 'GET', '/api/telegram/webhook-info')
    t.equal(res.status, 200)
    t.match(JSON.parse(res.body), { ok: true, verdict: 'ok', mode: 'webhook', expectedUrl: WEBHOOK_URL, info: { url: WEBHOOK_URL } })
  })

  t.test('the rest of /api/* reaches the main backend without /api (the old guide\'s step 2)', async (t) => {
    const me = await send(port, 'GET', '/api/users/me')
    t.equal(me.status, 401)
    t.match(JSON.parse(me.body), { message: 'backend stub: Unauthorized' })
    const post = await send(port, 'POST', '/api/lessons/7/answers?draft=1', json, '{}')
    t.equal(post.status, 401)
    t.same(backend.seen, [{ method: 'GET', url: '/users/me' }, { method: 'POST', url: '/lessons/7/answers?draft=1' }])
  })

  t.test('the Mini App: files as they are, index.html for / and for client-side routes', async (t) => {
    for (const path of ['/', '/lessons/42', '/profile/settings?tab=2']) {
      const res = await send(port, 'GET', path)
      t.equal(res.status, 200, path)
      t.equal(res.body, INDEX_HTML, path)
      t.match(res.headers['content-type'], /^text\/html/, path)
    }
    const js = await send(port, 'GET', '/assets/app.js')
    t.equal(js.status, 200)
    t.equal(js.body, APP_JS)
    t.match(js.headers['content-type'], /javascript/)
    t.equal(backend.seen.filter((r) => !r.url.startsWith('/users') && !r.url.startsWith('/lessons')).length, 0, 'no Mini App path went to the backend')
  })

  t.test('the admin routes are not reachable through Caddy, whatever the spelling, even with the admin token', async (t) => {
    const admin = { ...json, authorization: `Bearer ${ADMIN_TOKEN}` }
    const setBefore = api.callsOf('setWebhook').length
    const paths = [
      '/api/telegram/set-webhook',
      '/api/telegram/delete-webhook',
      '/api/telegram/SET-WEBHOOK',
      '/api/telegram/set%2Dwebhook',
      '/api/telegram/delete%2dwebhook',
      '/api/telegram//set-webhook',
      '/api/telegram/webhook/../set-webhook',
      '/api/telegram/webhook/..%2Fdelete-webhook',
      '/api/telegram/set-webhook?x=1',
      '/api//telegram/delete-webhook',
      '/api/./telegram/delete-webhook'
    ]
    for (const path of paths) {
      const res = await send(port, 'POST', path, admin, '{}')
      t.equal(res.status, 404, path)
      // Caddy's own answer, saying where admin commands run (not the ingress's or the backend's 404).
      t.match(res.body, /docker compose exec ingress node dist\/admin-cli\.js/, path)
    }
    t.equal(api.callsOf('setWebhook').length, setBefore, 'no setWebhook reached Telegram')
    t.equal(api.callsOf('deleteWebhook').length, 0, 'no deleteWebhook reached Telegram')
    t.equal(api.webhook.url, WEBHOOK_URL, 'the webhook is untouched')

    // The control: the same call on the ingress itself (what admin-cli does) works.
    const direct = await send(ingressPort, 'POST', '/telegram/set-webhook', admin, '{}')
    t.equal(direct.status, 200)
    t.equal(api.callsOf('setWebhook').length, setBefore + 1)
  })
})
