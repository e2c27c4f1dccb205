// End-to-end pieces: the real ingress (startService) against the Bot API emulator, and a proxy
// that can stand between them to make Telegram's deliveries fail on purpose.
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { startSandbox, type Sandbox, type SandboxOptions } from '../../sandbox/session.js'
import { LogCapture } from '../helpers/log-capture.js'

export const E2E_SECRET = 'e2e_secret-token'

interface Teardown {
  teardown: (fn: () => unknown) => void
}

export interface E2E extends Sandbox {
  logs: LogCapture
}

/**
 * Emulator (Telegram time x0.01) + ingress, stopped on teardown; ingress logs are captured.
 * SHUTDOWN_TIMEOUT_MS is short so that a test leaving a handler hung ends in 0.5 s, not 8 s.
 */
export async function sandboxFor (t: Teardown, options: SandboxOptions = {}): Promise<E2E> {
  const logs = new LogCapture()
  const sandbox = await startSandbox({
    timeScale: 0.01,
    logStream: logs,
    ...options,
    env: { TELEGRAM_WEBHOOK_SECRET: E2E_SECRET, LOG_LEVEL: 'info', SHUTDOWN_TIMEOUT_MS: '500', ...options.env }
  })
  t.teardown(() => sandbox.stop())
  return { ...sandbox, logs }
}

/** What the proxy does with one POST from the emulator. */
export type ProxyMove =
  | 'forward'
  /** Answer 500 without telling the ingress: the update never reached it. */
  | 'fail-before'
  /** Forward, let the ingress handle it, then answer 500 anyway: the ack is lost. */
  | 'fail-after'

export interface FlakyProxy {
  /** Give this to the sandbox as its webhook URL. */
  url: string
  /** Set once the ingress is up. */
  target: string
  moves: ProxyMove[]
}

export async function flakyProxyFor (t: Teardown, decide: (index: number) => ProxyMove): Promise<FlakyProxy> {
  const proxy: FlakyProxy = { url: '', target: '', moves: [] }
  const server = http.createServer((req, res) => {
    const move = decide(proxy.moves.length)
    proxy.moves.push(move)
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const fail = (): void => { res.writeHead(500).end() }
      if (move === 'fail-before') return fail()
      forward(proxy.target, req.headers, Buffer.concat(chunks)).then((answer) => {
        if (move === 'fail-after') return fail()
        res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body)
      }, fail)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/telegram/webhook`
  t.teardown(async () => {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => { resolve() }))
  })
  return proxy
}

// One connection per forwarded POST (agent: false), so the proxy leaves no keep-alive connection
// behind for the ingress's shutdown to wait on.
async function forward (target: string, headers: http.IncomingHttpHeaders, body: Buffer): Promise<{ status: number, body: string }> {
  return await new Promise((resolve, reject) => {
    const req = http.request(target, {
      method: 'POST',
      agent: false,
      headers: {
        'content-type': headers['content-type'] ?? 'application/json',
        'x-telegram-bot-api-secret-token': headers['x-telegram-bot-api-secret-token'] ?? ''
      }
    }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }) })
    })
    req.on('error', reject)
    req.end(body)
  })
}
