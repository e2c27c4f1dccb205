// `npm run sandbox -- --demo`, as a newcomer or CI runs it: a real process, no environment, exit 0.
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'

async function runCli (args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> {
  // Only PATH and HOME: the sandbox must need no configuration (and must never see a real token).
  const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' }
  const child = spawn(process.execPath, ['--import', 'tsx', 'sandbox/cli.ts', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString('utf8') })
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString('utf8') })
  const timer = setTimeout(() => child.kill(), 20_000)
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  clearTimeout(timer)
  return { code, stdout, stderr }
}

t.test('--demo sends /start and a voice message, prints the replies, exits 0', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sandbox-cli-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const logPath = join(dir, 'ingress.log')
  const { code, stdout, stderr } = await runCli(['--demo', '--log', logPath])
  t.equal(code, 0, stderr)
  t.match(stdout, /you> \/start\nbot> Welcome, Sandra! .*\nyou> \[voice message, 3 s\]\nbot> Got your voice message, thank you\.\n/)
  t.match(stdout, /ingress log: Received voice from 100000001/)
  t.match(stdout, /Webhook deliveries: 2 POSTs, 2 acknowledged, 0 failed, 0 redelivered; 0 pending\./)
  const log = await readFile(logPath, 'utf8')
  t.match(log, /"msg":"Telegram Bot initialized \(webhook mode\): @sandbox_bot"/, 'the ingress log went to the file')
  t.notMatch(stdout + log, /SANDBOX_sandbox_SANDBOX/, 'the token is never printed or logged')
})
