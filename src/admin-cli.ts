// The admin routes from the server itself. Caddy does not expose them and the ingress port is not
// published, so an operator runs `docker compose exec ingress node dist/admin-cli.js <command>`:
// it calls this service on 127.0.0.1:$PORT with $TELEGRAM_ADMIN_TOKEN from the same environment,
// prints the answer and exits 0 on a 2xx. The image's HEALTHCHECK is its `webhook-info`.
import { pathToFileURL } from 'node:url'
import { DurableStore } from './durable/store.js'

export const USAGE = `usage: node dist/admin-cli.js <command> [--drop-pending-updates]
  webhook-info     what Telegram reports about the webhook; exit 0 when healthy (the health check)
  set-webhook      set the webhook to TELEGRAM_WEBHOOK_URL, with the secret and settings
  delete-webhook   delete the webhook (pending updates are kept unless --drop-pending-updates)
durable mode (DATABASE_URL set; these talk to the database, not to the service):
  jobs             pending, running and failed updates, and the oldest pending one's age
  retry-failed     queue every failed update again (each in its chat's order)
  replay <update_id>  handle one stored update again, whatever its state`

const DROP_FLAG = '--drop-pending-updates'
// Long enough for a setWebhook that Telegram answers slowly; the health check has its own timeout.
const REQUEST_TIMEOUT_MS = 20_000

interface Command { path: string, admin: boolean }

const COMMANDS: Record<string, Command> = {
  'webhook-info': { path: '/telegram/webhook-info', admin: false },
  'set-webhook': { path: '/telegram/set-webhook', admin: true },
  'delete-webhook': { path: '/telegram/delete-webhook', admin: true }
}

export interface CliResult {
  /** 0: the service answered 2xx; 1: it answered otherwise or not at all; 2: wrong usage. */
  code: number
  output: string
}

function requestFor (command: Command, flags: string[], env: Record<string, string | undefined>): RequestInit | string {
  if (!command.admin) return { method: 'GET' }
  const token = env.TELEGRAM_ADMIN_TOKEN
  if (token === undefined || token === '') return 'TELEGRAM_ADMIN_TOKEN is not set in this environment: set it in .env and recreate the container (docker compose up -d).'
  return {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ drop_pending_updates: flags.includes(DROP_FLAG) })
  }
}

const DATABASE_COMMANDS = new Set(['jobs', 'retry-failed', 'replay'])

/** A silent logger: the CLI prints its one answer; a failure is the thrown error. */
const QUIET = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} }

async function runDatabaseCommand (name: string, args: string[], env: Record<string, string | undefined>): Promise<CliResult> {
  const url = env.DATABASE_URL
  if (url === undefined || url === '') return { code: 2, output: `DATABASE_URL is not set in this environment: \`${name}\` is for the durable mode (README.md, Durable mode).` }
  let updateId: number | undefined
  if (name === 'replay') {
    updateId = Number(args[0])
    if (args.length !== 1 || !Number.isSafeInteger(updateId) || updateId < 0) return { code: 2, output: `usage: node dist/admin-cli.js replay <update_id> (a non-negative integer; got ${args.join(' ') || 'nothing'})` }
  } else if (args.length > 0) {
    return { code: 2, output: USAGE }
  }
  const store = new DurableStore(url, QUIET, { poolSize: 1, name: 'admin-cli' })
  try {
    if (name === 'jobs') return { code: 0, output: JSON.stringify(await store.counts()) }
    if (name === 'retry-failed') {
      const queued = await store.retryFailed()
      return { code: 0, output: `${queued} failed update(s) queued again` }
    }
    const found = await store.replay(updateId as number)
    return found
      ? { code: 0, output: `update ${String(updateId)} queued again` }
      : { code: 1, output: `update ${String(updateId)} is not stored (never received, or pruned after TELEGRAM_UPDATE_RETENTION_HOURS)` }
  } catch (err) {
    // The URL holds the password: only the error's code and message are printed.
    const e = err as { code?: string, message?: string }
    return { code: 1, output: `The database did not answer: ${e.code !== undefined ? `${e.code} ` : ''}${e.message ?? String(err)}` }
  } finally {
    await store.close().catch(() => {})
  }
}

export async function runAdminCommand (args: string[], env: Record<string, string | undefined>): Promise<CliResult> {
  const [name = '', ...flags] = args
  if (name === 'help' || name === '--help') return { code: 0, output: USAGE }
  if (DATABASE_COMMANDS.has(name)) return await runDatabaseCommand(name, flags, env)
  const command = COMMANDS[name]
  if (command === undefined || flags.some((f) => f !== DROP_FLAG) || (!command.admin && flags.length > 0)) {
    return { code: 2, output: USAGE }
  }
  const request = requestFor(command, flags, env)
  if (typeof request === 'string') return { code: 2, output: request }
  const url = `http://127.0.0.1:${env.PORT === undefined || env.PORT === '' ? '3000' : env.PORT}${command.path}`
  try {
    const res = await fetch(url, { ...request, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
    return { code: res.ok ? 0 : 1, output: `${res.status} ${await res.text()}` }
  } catch (err) {
    return { code: 1, output: `No answer from the service at ${url}: ${reasonOf(err)}` }
  }
}

/** fetch() says only "fetch failed"; the cause names it (ECONNREFUSED: the service is not running). */
function reasonOf (err: unknown): string {
  const cause = err instanceof Error ? err.cause : undefined
  if (cause instanceof Error) return cause.message
  return err instanceof Error ? err.message : String(err)
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { code, output } = await runAdminCommand(process.argv.slice(2), process.env)
  const stream = code === 0 ? process.stdout : process.stderr
  stream.write(`${output}\n`)
  process.exitCode = code
}
