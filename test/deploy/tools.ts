// What the deployment tests share: the repo's files, the external tools they run (caddy,
// docker-compose), free ports, and .env parsing as compose and node --env-file read it.
import { execFile, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseEnv } from 'node:util'
import { startService, type RunningService } from '../../src/server.js'
import { baseEnv } from '../helpers/app.js'
import { startTestBotApi, type TestBotApi } from '../helpers/bot-api.js'
import { LogCapture } from '../helpers/log-capture.js'

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))

export function repoPath (name: string): string {
  return join(REPO_ROOT, name)
}

/** What the helpers need of a tap test: a place to register clean-up. */
export interface Teardown { teardown: (fn: () => unknown) => void }

export function readRepoFile (name: string): string {
  return readFileSync(repoPath(name), 'utf8')
}

export function readEnvExample (): Record<string, string> {
  return parseEnv(readRepoFile('.env.example')) as Record<string, string>
}

export interface Tool {
  /** The reason to skip the tests that need the tool, or false when it is there. */
  skip: string | false
  /** Its own version line, for the test log. */
  version: string
}

/**
 * Finds `command` (it must answer `command version`). Absent on a developer's machine: the tests
 * that need it are skipped, saying how to install it. Absent in CI (CI is set): a failure, because
 * .ci/run installs it and a silent skip would hide a deployment that no longer works.
 */
export function needTool (t: { fail: (message: string) => unknown }, command: string, debianPackage: string): Tool {
  const run = spawnSync(command, ['version'], { encoding: 'utf8', timeout: 10_000 })
  if (run.error === undefined && run.status === 0) return { skip: false, version: run.stdout.split('\n')[0] ?? '' }
  const reason = `${command} is not installed (apt-get install ${debianPackage})`
  if (process.env.CI !== undefined && process.env.CI !== '') t.fail(`${reason}: CI must install it before the tests (.ci/run)`)
  return { skip: reason, version: '' }
}

export interface Ran { code: number | null, stdout: string, stderr: string }

export async function run (command: string, args: string[], options: { cwd?: string, env?: NodeJS.ProcessEnv, input?: string } = {}): Promise<Ran> {
  return await new Promise((resolve) => {
    const child = execFile(command, args, { cwd: options.cwd, env: options.env, timeout: 30_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null
      resolve({ code, stdout, stderr })
    })
    if (options.input !== undefined) child.stdin?.end(options.input)
  })
}

/** A port nothing listens on right now (for servers that must be told theirs up front, like Caddy). */
export async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

export interface Ingress {
  api: TestBotApi
  service: RunningService
  /** Where the service listens on 127.0.0.1: the container's PORT. */
  port: number
}

/** The real service (start-up checks included) against the Bot API emulator, both stopped on teardown. */
export async function startIngress (t: Teardown): Promise<Ingress> {
  const api = await startTestBotApi()
  t.teardown(() => api.close())
  const service = await startService({
    env: baseEnv(api, { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn' }),
    logStream: new LogCapture(),
    retry: { attempts: 1 }
  })
  t.teardown(() => service.stop())
  return { api, service, port: Number(new URL(service.url).port) }
}
