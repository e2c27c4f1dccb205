// src/admin-cli.ts: the admin commands an operator runs inside the container (Caddy blocks the
// routes from outside), and the image's health check. Against the running service and the Bot API emulator.
import { execFile } from 'node:child_process'
import t from 'tap'
import { runAdminCommand, USAGE } from '../../src/admin-cli.js'
import { ADMIN_TOKEN, SECRET, WEBHOOK_URL } from '../helpers/app.js'
import type { TestBotApi } from '../helpers/bot-api.js'
import { freePort, readEnvExample, REPO_ROOT, startIngress, type Teardown } from './tools.js'

/** The running service, and what the container's environment gives the command: its port and the admin token. */
async function serviceAndEnv (t: Teardown): Promise<{ api: TestBotApi, env: Record<string, string> }> {
  const { api, port } = await startIngress(t)
  return { api, env: { PORT: String(port), TELEGRAM_ADMIN_TOKEN: ADMIN_TOKEN } }
}

t.test('webhook-info exits 0 while Telegram delivers to the configured URL, 1 once it does not', async (t) => {
  const { api, env } = await serviceAndEnv(t)
  const healthy = await runAdminCommand(['webhook-info'], env)
  t.equal(healthy.code, 0)
  t.match(healthy.output, /^200 \{.*"verdict":"ok"/)

  const deleted = await runAdminCommand(['delete-webhook'], env)
  t.equal(deleted.code, 0)
  t.equal(api.webhook.url, '', 'the webhook is gone at Telegram')
  const unhealthy = await runAdminCommand(['webhook-info'], { PORT: env.PORT })
  t.equal(unhealthy.code, 1)
  t.match(unhealthy.output, /^503 \{.*"verdict":"missing"/)
})

t.test('set-webhook sets TELEGRAM_WEBHOOK_URL with the secret; --drop-pending-updates is passed on', async (t) => {
  const { api, env } = await serviceAndEnv(t)
  const res = await runAdminCommand(['set-webhook', '--drop-pending-updates'], env)
  t.equal(res.code, 0)
  t.match(res.output, /^200 \{.*"message":"Webhook set successfully"/)
  const call = api.callsOf('setWebhook').at(-1)
  t.match(call?.params, { url: WEBHOOK_URL, secret_token: SECRET, drop_pending_updates: true })

  await runAdminCommand(['delete-webhook'], env)
  t.match(api.callsOf('deleteWebhook').at(-1)?.params, { drop_pending_updates: false }, 'pending updates are kept by default')
})

t.test('a wrong or missing admin token is refused before any call to Telegram', async (t) => {
  const { api, env } = await serviceAndEnv(t)
  const calls = api.calls.length
  const wrong = await runAdminCommand(['set-webhook'], { ...env, TELEGRAM_ADMIN_TOKEN: 'not-the-admin-token-0000' })
  t.equal(wrong.code, 1)
  t.match(wrong.output, /^401 .*Wrong admin token/)
  const missing = await runAdminCommand(['delete-webhook'], { PORT: env.PORT })
  t.equal(missing.code, 2)
  t.match(missing.output, /TELEGRAM_ADMIN_TOKEN is not set/)
  t.equal(api.calls.length, calls)
})

t.test('usage errors exit 2 with the usage; help exits 0', async (t) => {
  for (const args of [[], ['restart'], ['set-webhook', '--force'], ['webhook-info', '--drop-pending-updates']]) {
    t.same(await runAdminCommand(args, {}), { code: 2, output: USAGE }, args.join(' '))
  }
  t.same(await runAdminCommand(['help'], {}), { code: 0, output: USAGE })
})

t.test('no service on the port: exit 1 naming the address and the cause', async (t) => {
  const port = String(await freePort())
  const res = await runAdminCommand(['webhook-info'], { PORT: port })
  t.equal(res.code, 1)
  t.equal(res.output, `No answer from the service at http://127.0.0.1:${port}/telegram/webhook-info: connect ECONNREFUSED 127.0.0.1:${port}`)
})

/** The command as a process, the way HEALTHCHECK and `docker compose exec` run it. */
async function runCli (args: string[], env: Record<string, string>): Promise<{ code: number, stdout: string, stderr: string }> {
  return await new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'src/admin-cli.ts', ...args], { cwd: REPO_ROOT, env: { PATH: process.env.PATH, ...env }, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : Number(err.code), stdout, stderr })
    })
  })
}

t.test('as a process, the way HEALTHCHECK runs it: the exit code and the answer on stdout', async (t) => {
  const { env } = await serviceAndEnv(t)
  const { code, stdout } = await runCli(['webhook-info'], env)
  t.equal(code, 0)
  t.match(stdout, /^200 \{.*"verdict":"ok"/)
})

t.test('as a process with every blank line of .env.example: a blank admin token is not set', async (t) => {
  const { api, env } = await serviceAndEnv(t)
  const blanks = Object.fromEntries(Object.entries(readEnvExample()).filter(([, value]) => value === ''))
  t.equal(blanks.TELEGRAM_ADMIN_TOKEN, '', '.env.example ships the admin token blank')
  const calls = api.calls.length
  const refused = await runCli(['delete-webhook'], { ...env, ...blanks })
  t.equal(refused.code, 2)
  t.match(refused.stderr, /TELEGRAM_ADMIN_TOKEN is not set/)
  t.equal(api.calls.length, calls, 'nothing reached Telegram')
  const health = await runCli(['webhook-info'], { ...env, ...blanks })
  t.equal(health.code, 0, 'the health check runs with the blanks')
})
