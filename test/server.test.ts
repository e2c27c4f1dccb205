import { spawn } from 'node:child_process'
import { once } from 'node:events'
import t from 'tap'
import { deriveWebhookSecret } from '../src/config.js'
import { startService } from '../src/server.js'
import { readEnvExample } from './deploy/tools.js'
import { baseEnv, SECRET, textUpdate, WEBHOOK_URL } from './helpers/app.js'
import { FAKE_TOKEN, startTestBotApi, type TestBotApi } from './helpers/bot-api.js'
import { LogCapture } from './helpers/log-capture.js'
import { waitUntil } from './helpers/wait.js'

const SECRET_HALF = FAKE_TOKEN.split(':')[1] ?? 'never'

async function fakeApi (t: { teardown: (fn: () => unknown) => void }): Promise<TestBotApi> {
  const api = await startTestBotApi()
  t.teardown(() => api.close())
  return api
}

async function post (url: string, update: unknown): Promise<Response> {
  return await fetch(`${url}/telegram/webhook`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': SECRET },
    body: JSON.stringify(update)
  })
}

t.test('startService: getMe, sets the webhook, listens, logs one banner line', async (t) => {
  const api = await fakeApi(t)
  const logs = new LogCapture()
  const service = await startService({ env: baseEnv(api, { PORT: '0', HOST: '127.0.0.1' }), logStream: logs })
  t.teardown(() => service.stop())
  t.match(service.url, /^http:\/\/127\.0\.0\.1:\d+$/)
  t.same(api.calls.map((c) => c.method), ['getMe', 'getWebhookInfo', 'setWebhook'])
  t.match(api.webhook, { url: WEBHOOK_URL, secret_token: SECRET, max_connections: 100 })
  const [banner] = logs.find('Telegram Bot initialized')
  t.equal(logs.find('Telegram Bot initialized').length, 1, 'one banner line, not more')
  t.match(banner, { msg: 'Telegram Bot initialized (webhook mode): @test_ingress_bot', webhook_url: WEBHOOK_URL, webhook_set_now: true })

  const start = textUpdate('/start', 31)
  api.learnChatsOf(start)
  const res = await post(service.url, start)
  t.equal(res.status, 200)
  t.equal(api.callsOf('sendMessage').length, 1)
  t.equal((await fetch(`${service.url}/telegram/webhook-info`)).status, 200)
})

t.test('startService warns about update types it does not know (a typo in TELEGRAM_ALLOWED_UPDATES)', async (t) => {
  const api = await fakeApi(t)
  const logs = new LogCapture()
  const service = await startService({ env: baseEnv(api, { PORT: '0', HOST: '127.0.0.1', TELEGRAM_ALLOWED_UPDATES: 'message,callback_querry' }), logStream: logs })
  t.teardown(() => service.stop())
  t.match(logs.find('does not know'), [{ level: 40, unknown: ['callback_querry'] }])
  t.same(api.callsOf('setWebhook')[0]?.params.allowed_updates, ['message', 'callback_querry'], 'still sent as configured')
  t.same(api.webhook.allowed_updates, ['message'], 'and Telegram keeps the types it knows')
})

t.test('stop(): new updates get 503, background handlers finish before it resolves', async (t) => {
  const api = await fakeApi(t)
  let releaseReply = (): void => {}
  api.on('sendMessage', async ({ params }) => {
    await new Promise<void>((resolve) => { releaseReply = resolve })
    return { result: { message_id: 1, date: 0, chat: { id: params.chat_id, type: 'private' }, text: params.text } }
  })
  const logs = new LogCapture()
  const service = await startService({ env: baseEnv(api, { PORT: '0', HOST: '127.0.0.1', TELEGRAM_HANDLER_BUDGET_MS: '0' }), logStream: logs })
  t.equal((await post(service.url, textUpdate('/start', 32, 7001))).status, 200, 'acked before the reply is sent')
  t.equal(service.app.ingress.inFlight, 1)
  let stopped = false
  const stopping = service.stop().then(() => { stopped = true })
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(stopped, false, 'stop waits for the handler')
  t.equal(await service.app.ingress.accept(textUpdate('/start', 33, 7002) as never), 'closed', 'no new updates are taken')
  releaseReply()
  await stopping
  t.equal(service.app.ingress.inFlight, 0)
  t.equal(logs.find('shutdown complete').length, 1)
})

t.test('stop() is bounded by SHUTDOWN_TIMEOUT_MS when a handler never ends', async (t) => {
  const api = await fakeApi(t)
  api.on('sendMessage', async () => await new Promise(() => {}))
  const logs = new LogCapture()
  const service = await startService({ env: baseEnv(api, { PORT: '0', HOST: '127.0.0.1', TELEGRAM_HANDLER_BUDGET_MS: '0', SHUTDOWN_TIMEOUT_MS: '100' }), logStream: logs })
  await post(service.url, textUpdate('/start', 34))
  await service.stop()
  t.match(logs.find('abandoned')[0], { unfinished: 1 })
})

t.test('polling mode: start-up refuses a token whose webhook is active', async (t) => {
  const api = await fakeApi(t)
  api.presetWebhook({ url: 'https://prod.example.com/api/telegram/webhook' })
  const err = await startService({ env: baseEnv(api, { PORT: '0', HOST: '127.0.0.1', TELEGRAM_USE_WEBHOOK: 'false' }), logStream: new LogCapture() }).catch((e: unknown) => e)
  t.match(err, { name: 'StartupError', message: /prod\.example\.com/ })
  t.equal(api.callsOf('deleteWebhook').length, 0)
  t.equal(api.callsOf('getUpdates').length, 0)
})

// The process as `npm start` runs it (through tsx here, so the test needs no build).
async function runProcess (env: Record<string, string | undefined>, whileRunning?: (child: ReturnType<typeof spawn>, output: () => string) => Promise<void>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: { PATH: process.env.PATH, ...env } as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const exited = once(child, 'exit') as Promise<[number | null, string | null]>
  if (whileRunning !== undefined) await whileRunning(child, () => stdout)
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
  const [code] = await exited
  clearTimeout(timer)
  return { code, stdout, stderr }
}

t.test('process: an invalid variable exits 1 with a message naming it, no stack trace', async (t) => {
  const { code, stderr, stdout } = await runProcess({ TELEGRAM_BOT_TOKEN: FAKE_TOKEN, TELEGRAM_WEBHOOK_URL: 'http://bot.example.com/telegram/webhook' })
  t.equal(code, 1)
  t.equal(stderr.trim(), 'telegram-ingress: TELEGRAM_WEBHOOK_URL must start with https:// (Telegram delivers webhooks over HTTPS only)')
  t.notOk((stdout + stderr).includes(SECRET_HALF))
  const missing = await runProcess({})
  t.equal(missing.code, 1)
  t.equal(missing.stderr.trim(), 'telegram-ingress: TELEGRAM_BOT_TOKEN is required')
})

t.test('process: a token Telegram rejects exits 1 with a clear message and never prints the token', async (t) => {
  const api = await fakeApi(t)
  api.on('getMe', () => ({ error_code: 401, description: 'Unauthorized' }))
  const { code, stderr, stdout } = await runProcess(baseEnv(api, { PORT: '0', HOST: '127.0.0.1' }))
  t.equal(code, 1)
  t.match(stderr, /Telegram rejected the bot token \(TELEGRAM_BOT_TOKEN\)/)
  t.notOk((stdout + stderr).includes(SECRET_HALF), 'no token in any output')
})

t.test('process: while Telegram is unreachable, retries are logged without the token', async (t) => {
  const api = await fakeApi(t)
  let n = 0
  api.on('getMe', () => (++n < 3 ? 'drop' : { error_code: 401, description: 'Unauthorized' }))
  const { code, stdout, stderr } = await runProcess(baseEnv(api, { PORT: '0', HOST: '127.0.0.1' }))
  t.equal(code, 1)
  const retries = stdout.split('\n').filter((l) => l.includes('getMe failed, retrying'))
  t.equal(retries.length, 2)
  t.match(retries[0], /Telegram could not be reached/)
  t.notOk((stdout + stderr).includes(SECRET_HALF), 'no token in any output')
  t.notOk((stdout + stderr).includes(SECRET), 'no secret in any output')
})

t.test('process: SIGTERM drains the update being handled, then exits 0', async (t) => {
  const api = await fakeApi(t)
  api.on('sendMessage', async ({ params }) => {
    await new Promise((resolve) => setTimeout(resolve, 300))
    return { result: { message_id: 1, date: 0, chat: { id: params.chat_id, type: 'private' }, text: params.text } }
  })
  let acked = 0
  const { code, stdout } = await runProcess(baseEnv(api, { PORT: '0', HOST: '127.0.0.1', TELEGRAM_HANDLER_BUDGET_MS: '0' }), async (child, output) => {
    await waitUntil(() => output().includes('Telegram Bot initialized'), 10_000, () => `the start-up banner; output so far: ${output()}`)
    // PORT=0: the real port is in Fastify's "Server listening" line.
    const url = /"msg":"Server listening at (http:\/\/127\.0\.0\.1:\d+)"/.exec(output())?.[1] ?? ''
    acked = (await post(url, textUpdate('/start', 35))).status
    child.kill('SIGTERM')
  })
  t.equal(acked, 200)
  t.equal(code, 0)
  t.equal(api.callsOf('sendMessage').length, 1, 'the reply was sent before exit')
  t.match(stdout, /shutdown complete/)
})

// close-with-grace's signals: besides SIGTERM (docker stop) and SIGINT (Ctrl-C), a terminal hang-up,
// SIGQUIT and SIGUSR2 stop the service the same way. Nothing reloads the configuration.
t.test('process: SIGHUP, SIGQUIT and SIGUSR2 also stop it gracefully, exit 0', async (t) => {
  const api = await fakeApi(t)
  for (const signal of ['SIGHUP', 'SIGQUIT', 'SIGUSR2'] as const) {
    const { code, stdout } = await runProcess(baseEnv(api, { PORT: '0', HOST: '127.0.0.1' }), async (child, output) => {
      await waitUntil(() => output().includes('Telegram Bot initialized'), 10_000, () => `the start-up banner; output so far: ${output()}`)
      child.kill(signal)
    })
    t.equal(code, 0, signal)
    t.match(stdout, new RegExp(`"signal":"${signal}".*signal received`), `${signal} logged`)
    t.match(stdout, /shutdown complete/, signal)
  }
})

t.test('process: polling mode exits 1 fast on a 409 from another poller', async (t) => {
  const api = await fakeApi(t)
  api.on('getUpdates', () => ({ error_code: 409, description: 'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running' }))
  const started = Date.now()
  const { code, stderr } = await runProcess(baseEnv(api, { PORT: '0', HOST: '127.0.0.1', TELEGRAM_USE_WEBHOOK: 'false' }))
  t.equal(code, 1)
  t.match(stderr, /Another process is polling with this bot token/)
  t.ok(Date.now() - started < 15_000)
})

// Compose's env_file hands every `KEY=` line of .env.example to the process as an empty string.
t.test('process: the blank lines of .env.example in the process environment count as unset', async (t) => {
  const blanks = Object.fromEntries(Object.entries(readEnvExample()).filter(([, value]) => value === ''))
  t.ok(Object.keys(blanks).includes('TELEGRAM_WEBHOOK_SECRET'), `.env.example has blank lines to test (${Object.keys(blanks).join(', ')})`)
  const api = await fakeApi(t)
  const env = { ...baseEnv(api, { PORT: '0', HOST: '127.0.0.1' }), TELEGRAM_WEBHOOK_SECRET: undefined, TELEGRAM_ADMIN_TOKEN: undefined, ...blanks }
  let info = 0
  const { code, stdout, stderr } = await runProcess(env, async (child, output) => {
    await waitUntil(() => output().includes('Telegram Bot initialized') || child.exitCode !== null, 10_000, () => `the start-up banner; output so far: ${output()}`)
    const url = /"msg":"Server listening at (http:\/\/127\.0\.0\.1:\d+)"/.exec(output())?.[1]
    if (url !== undefined) info = (await fetch(`${url}/telegram/webhook-info`)).status
    child.kill('SIGTERM')
  })
  t.equal(stderr, '', 'no configuration error')
  t.equal(code, 0)
  t.equal(info, 200, 'it served webhook-info')
  t.match(stdout, /"secret_derived":true/, 'the blank secret means: derived from the token')
  t.match(stdout, /"admin_routes":false/, 'the blank admin token means: admin routes off')
  t.equal(api.webhook.secret_token, deriveWebhookSecret(FAKE_TOKEN))
  t.notOk(api.callsOf('setWebhook').some((call) => 'allowed_updates' in call.params), 'a blank TELEGRAM_ALLOWED_UPDATES leaves Telegram\'s setting alone')
})
