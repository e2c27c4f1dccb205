// A Bot API stand-in for the benchmark, run as its own process: answers the start-up calls
// (getMe, getWebhookInfo, setWebhook) at once and sendMessage after a fixed latency, and counts
// every reply per update_id (the slow bot writes "handled <update_id>") so the runner can prove
// each update was handled exactly once.
//
//   node dist/bench/bench/bot-api-stub.js            (PORT, STUB_LATENCY_MS from the environment)
//   GET /__bench/stats[?ids=1]   counts since the last reset (and the handled ids)
//   POST /__bench/reset          forget everything
// The tests use the sandbox's emulator instead; why the bench does not: bench/README.md.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { pathToFileURL } from 'node:url'
import { BENCH_BOT_ID } from './lib/updates.js'

export const STUB_BOT = { id: BENCH_BOT_ID, is_bot: true as const, first_name: 'Bench', username: 'bench_ingress_bot', can_join_groups: true, can_read_all_group_messages: false, supports_inline_queries: false }

export interface StubStats {
  calls: Record<string, number>
  /** sendMessage calls that named an update ("handled <id>"). */
  replies: number
  distinctUpdates: number
  /** Updates replied to more than once. */
  duplicateUpdates: number
  /** sendMessage calls waiting for their (delayed) answer right now. */
  inFlight: number
  maxInFlight: number
  /** TCP connections the bot opened to the Bot API. */
  connections: number
  /** When the stub last answered a sendMessage, so that a handler could finish (epoch ms; 0 = none yet). */
  lastReplyAt: number
  ids?: number[]
}

export interface BotApiStub {
  url: string
  stats: (withIds?: boolean) => StubStats
  reset: () => void
  close: () => Promise<void>
}

const HANDLED = /^handled (\d+)$/

export async function startBotApiStub (port: number, latencyMs: number): Promise<BotApiStub> {
  let calls: Record<string, number> = {}
  let repliesPerUpdate = new Map<number, number>()
  let replies = 0
  let inFlight = 0
  let maxInFlight = 0
  let connections = 0
  let lastReplyAt = 0
  let webhook: Record<string, unknown> = { url: '', has_custom_certificate: false, pending_update_count: 0 }
  let messageId = 0

  const json = (res: ServerResponse, status: number, body: unknown): void => {
    const text = JSON.stringify(body)
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text)
  }

  const stats = (withIds = false): StubStats => {
    let duplicateUpdates = 0
    for (const n of repliesPerUpdate.values()) if (n > 1) duplicateUpdates++
    return {
      calls: { ...calls },
      replies,
      distinctUpdates: repliesPerUpdate.size,
      duplicateUpdates,
      inFlight,
      maxInFlight,
      connections,
      lastReplyAt,
      ...(withIds && { ids: [...repliesPerUpdate.keys()] })
    }
  }

  const reset = (): void => {
    calls = {}
    repliesPerUpdate = new Map()
    replies = 0
    maxInFlight = inFlight
    connections = 0
    lastReplyAt = 0
  }

  const answer = (method: string, params: Record<string, unknown>): unknown => {
    switch (method) {
      case 'getMe': return STUB_BOT
      case 'getWebhookInfo': return webhook
      case 'setWebhook':
        webhook = { url: params.url, has_custom_certificate: false, pending_update_count: 0, max_connections: params.max_connections ?? 40, ...(params.allowed_updates !== undefined && { allowed_updates: params.allowed_updates }) }
        return true
      case 'deleteWebhook':
        webhook = { url: '', has_custom_certificate: false, pending_update_count: 0 }
        return true
      case 'sendMessage': {
        const text = typeof params.text === 'string' ? params.text : ''
        const id = HANDLED.exec(text)?.[1]
        if (id !== undefined) {
          replies++
          repliesPerUpdate.set(Number(id), (repliesPerUpdate.get(Number(id)) ?? 0) + 1)
        }
        return { message_id: ++messageId, from: { id: BENCH_BOT_ID, is_bot: true, first_name: 'Bench' }, chat: { id: params.chat_id, type: 'private' }, date: Math.floor(Date.now() / 1000), text }
      }
      default: return true
    }
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0] ?? ''
      if (path === '/__bench/stats') return json(res, 200, stats((req.url ?? '').includes('ids=1')))
      if (path === '/__bench/reset') {
        reset()
        return json(res, 200, { ok: true })
      }
      const method = /^\/bot[^/]+\/([A-Za-z]+)$/.exec(path)?.[1]
      if (method === undefined) return json(res, 404, { ok: false, error_code: 404, description: 'Not Found' })
      calls[method] = (calls[method] ?? 0) + 1
      let params: Record<string, unknown> = {}
      try {
        const text = Buffer.concat(chunks).toString('utf8')
        if (text !== '') params = JSON.parse(text) as Record<string, unknown>
      } catch {
        return json(res, 400, { ok: false, error_code: 400, description: 'Bad Request: the bench stub takes JSON only' })
      }
      const result = answer(method, params)
      if (method !== 'sendMessage') return json(res, 200, { ok: true, result })
      // lastReplyAt: when the bot gets its answer, so the handler can finish (not when it asked).
      const send = (): void => {
        lastReplyAt = Date.now()
        json(res, 200, { ok: true, result })
      }
      if (latencyMs <= 0) return send()
      if (++inFlight > maxInFlight) maxInFlight = inFlight
      setTimeout(() => {
        inFlight--
        send()
      }, latencyMs)
    })
  })
  server.on('connection', () => { connections++ })
  server.keepAliveTimeout = 60_000
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  const address = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${address.port}`,
    stats,
    reset,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const stub = await startBotApiStub(Number(process.env.PORT ?? 0), Number(process.env.STUB_LATENCY_MS ?? 50))
  console.log(`bot-api-stub listening on ${stub.url}`)
  process.on('SIGTERM', () => { stub.close().then(() => process.exit(0), () => process.exit(1)) })
}
