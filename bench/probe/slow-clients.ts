// Slow clients (issue 13, finding 1): connections that send their headers, then a body a byte a
// second that would take days to arrive. Each must be cut near the request deadline (or at once,
// when refused before the body), and real updates must keep getting their 200 meanwhile.
import { setTimeout as sleep } from 'node:timers/promises'
import { SERVER_LIMITS } from '../../src/server-limits.js'
import { runPacedLoad } from '../lib/node-load.js'
import { openDescriptors, type ProbeService } from './service.js'
import { openMany, statusesIn, type RawConnection } from './raw.js'
import { count, seconds, spread, tally, type Row } from './report.js'

export interface SlowClientsOptions {
  service: ProbeService
  /** Slow connections in all, shared among the kinds. */
  connections: number
  /** Real updates a second meanwhile. */
  rate: number
}

interface Kind {
  what: string
  head: (secret: string) => string
  /** Refused from the headers alone: closed with the answer, not at the deadline. */
  refusedAtOnce: boolean
}

const BIG = 'Content-Length: 1000000\r\n'

const KINDS: Kind[] = [
  { what: 'webhook POST with the secret', refusedAtOnce: false, head: (secret) => `POST /telegram/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n${BIG}X-Telegram-Bot-Api-Secret-Token: ${secret}\r\n\r\n{"update_id":1,"x":"` },
  { what: 'webhook POST without the secret', refusedAtOnce: true, head: () => `POST /telegram/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n${BIG}\r\n{"update_id":1,"x":"` },
  { what: 'GET /telegram/webhook-info with a body', refusedAtOnce: false, head: () => `GET /telegram/webhook-info HTTP/1.1\r\nHost: 127.0.0.1\r\n${BIG}\r\n` },
  { what: 'POST /anything', refusedAtOnce: false, head: () => `POST /anything HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n${BIG}\r\n` }
]

// Node looks for requests past their deadline once per check interval, so a cut comes up to one
// interval late; a second more for a busy machine.
const LATE_MS = SERVER_LIMITS.checkIntervalMs + 1000

export async function probeSlowClients ({ service, connections, rate }: SlowClientsOptions): Promise<Row[]> {
  const port = Number(new URL(service.url).port)
  const perKind = Math.max(1, Math.floor(connections / KINDS.length))
  const started = Date.now()
  const groups: RawConnection[][] = []
  for (const kind of KINDS) groups.push(await openMany(port, perKind, () => kind.head(service.secret)))
  const all = groups.flat()
  // One byte a second on every open connection: a body of 1 MB would take 11 days.
  const trickle = setInterval(() => { for (const c of all) if (c.closedAt === undefined) c.socket.write('x') }, 1000)
  let peakDescriptors = openDescriptors(service.pid)
  const watch = setInterval(() => { peakDescriptors = Math.max(peakDescriptors, openDescriptors(service.pid)) }, 1000)
  try {
    const real = await runPacedLoad({
      url: `${service.url}/telegram/webhook`,
      secret: service.secret,
      rate,
      durationMs: SERVER_LIMITS.requestTimeoutMs + 2000,
      connections: 10,
      sequence: { firstUpdateId: 1, firstUserId: 500_000_000, users: 100 }
    })
    // Bounded: whatever is still open after the deadline, and then some, is a failure.
    const deadline = started + SERVER_LIMITS.requestTimeoutMs + 10_000
    while (all.some((c) => c.closedAt === undefined) && Date.now() < deadline) await sleep(200)
    const rows = KINDS.map((kind, i): Row => {
      const group = groups[i] ?? []
      const cut = group.filter((c) => c.closedAt !== undefined)
      const after = cut.map((c) => (c.closedAt ?? 0) - c.openedAt)
      const answers: Record<string, number> = {}
      for (const c of group) {
        const key = statusesIn(c.received()).join('+') || 'none'
        answers[key] = (answers[key] ?? 0) + 1
      }
      const inTime = after.every((ms) => kind.refusedAtOnce ? ms < LATE_MS : ms >= SERVER_LIMITS.requestTimeoutMs - 1000 && ms <= SERVER_LIMITS.requestTimeoutMs + LATE_MS)
      return {
        check: 'slow clients',
        what: `${kind.what}, then 1 byte/s (${count(group.length)})`,
        measured: `${count(cut.length)} cut after ${spread(after)}; answers ${tally(answers)}`,
        expected: kind.refusedAtOnce ? 'all cut at once' : `all cut at ${seconds(SERVER_LIMITS.requestTimeoutMs)}-${seconds(SERVER_LIMITS.requestTimeoutMs + LATE_MS)} s`,
        ok: cut.length === group.length && inTime
      }
    })
    const p99 = (real.p99Us / 1000).toFixed(1)
    rows.push({
      check: 'slow clients',
      what: `real updates meanwhile, ${rate}/s for ${seconds(SERVER_LIMITS.requestTimeoutMs + 2000)} s`,
      measured: `${count(real.completed - real.non2xx)}/${count(real.sent)} got 200 (errors ${real.errors}); p50 ${(real.p50Us / 1000).toFixed(1)} ms, p99 ${p99} ms, max ${(real.maxUs / 1000).toFixed(1)} ms`,
      expected: 'all 200',
      ok: real.non2xx === 0 && real.errors === 0 && real.completed === real.sent
    })
    const trickling = KINDS.reduce((n, kind, i) => n + (kind.refusedAtOnce ? 0 : groups[i]?.length ?? 0), 0)
    rows.push({ check: 'slow clients', what: 'descriptors the service held, at most', measured: count(peakDescriptors), expected: `about ${count(trickling)} trickling + its own`, ok: undefined })
    return rows
  } finally {
    clearInterval(trickle)
    clearInterval(watch)
    for (const c of all) c.socket.destroy()
  }
}
