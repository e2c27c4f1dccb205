// The admin routes from the server itself. Caddy does not expose them and the ingress port is not
// published, so an operator runs `docker compose exec ingress node dist/admin-cli.js <command>`:
// it calls this service on 127.0.0.1:$PORT with $TELEGRAM_ADMIN_TOKEN from the same environment,
// prints the answer and exits 0 on a 2xx. The image's HEALTHCHECK is its `webhook-info`.
import { pathToFileURL } from 'node:url'

export const USAGE = `usage: node dist/admin-cli.js <command> [--drop-pending-updates]
  webhook-info     what Telegram reports about the webhook; exit 0 when healthy (the health check)
  set-webhook      set the webhook to TELEGRAM_WEBHOOK_URL, with the secret and settings
  delete-webhook   delete the webhook (pending updates are kept unless --drop-pending-updates)`

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

export async function runAdminCommand (args: string[], env: Record<string, string | undefined>): Promise<CliResult> {
  const [name = '', ...flags] = args
  if (name === 'help' || name === '--help') return { code: 0, output: USAGE }
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
