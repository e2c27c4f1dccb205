// sandbox/emulator-server.ts as the deployment test runs it in a container: a process of its own,
// configured by the environment, in local mode, stopped by SIGTERM with exit 0.
import { spawn } from 'node:child_process'
import t from 'tap'
import { within } from '../helpers/wait.js'
import { TOKEN } from './helpers.js'

t.test('listens where EMULATOR_HOST and EMULATOR_PORT say, allows http webhooks, exits 0 on SIGTERM', async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'sandbox/emulator-server.ts'], {
    env: { PATH: process.env.PATH ?? '', EMULATOR_HOST: '127.0.0.1', EMULATOR_PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
  t.teardown(() => { child.kill('SIGKILL') })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString('utf8') })

  const banner = await within(10_000, new Promise<string>((resolve) => {
    let stdout = ''
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8')
      if (stdout.includes('\n')) resolve(stdout)
    })
  }))
  const url = /at (http:\/\/127\.0\.0\.1:\d+)/.exec(banner)?.[1]
  t.ok(url !== undefined, `the banner names the URL: ${banner} ${stderr}`)

  const me = await fetch(`${url ?? ''}/bot${TOKEN}/getMe`)
  t.equal(me.status, 200)
  // Only a local Bot API server takes a plain http webhook on another port.
  const set = await fetch(`${url ?? ''}/bot${TOKEN}/setWebhook`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ url: 'http://ingress:3000/telegram/webhook' })
  })
  t.match(await set.json(), { ok: true, result: true })

  child.kill('SIGTERM')
  t.equal(await within(10_000, exited), 0, stderr)
})

t.test('an EMULATOR_PORT that is no port stops it at once with the reason', async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'sandbox/emulator-server.ts'], {
    env: { PATH: process.env.PATH ?? '', EMULATOR_PORT: 'eighty' },
    stdio: ['ignore', 'ignore', 'pipe']
  })
  t.teardown(() => { child.kill('SIGKILL') })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString('utf8') })
  const code = await within(10_000, new Promise<number | null>((resolve) => child.on('close', resolve)))
  t.not(code, 0)
  t.match(stderr, /EMULATOR_PORT must be a port number \(got eighty\)/)
})
