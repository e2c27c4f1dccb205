// A small load generator in Node for the smoke run (and for machines without wrk): `connections`
// keep-alive sockets, each POSTing the next update as soon as the previous answer arrived, until a
// request count or a duration is reached. It remembers which update_ids got a 2xx, so the smoke can
// check that exactly those were handled. Slower than wrk: never use its figures as the ceiling.
import { Agent, request } from 'node:http'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { nthUpdate, type Sequence } from './updates.js'

export interface LoadOptions {
  url: string
  secret: string
  connections: number
  sequence: Sequence
  /** Stop after this many requests... */
  requests?: number
  /** ...or after this long, whichever comes first. */
  durationMs?: number
  timeoutMs?: number
}

export interface LoadResult {
  sent: number
  completed: number
  non2xx: number
  errors: number
  durationUs: number
  p50Us: number
  p90Us: number
  p99Us: number
  maxUs: number
  meanUs: number
  /** update_ids answered with a 2xx. */
  ackedIds: number[]
  /** Status codes other than 2xx, with how often they came. */
  statuses: Record<string, number>
}

/** POSTs one update body with the secret header; resolves with the status, rejects when no answer came. */
export function post (agent: Agent, url: URL, secret: string, body: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: 'POST',
      agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-telegram-bot-api-secret-token': secret },
      timeout: timeoutMs
    }, (res) => {
      res.resume()
      res.on('end', () => { resolve(res.statusCode ?? 0) })
      res.on('error', reject)
    })
    req.on('timeout', () => { req.destroy(new Error(`no answer within ${timeoutMs} ms`)) })
    req.on('error', reject)
    req.end(body)
  })
}

function percentile (sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0
}

function summarize (latencies: number[], rest: Omit<LoadResult, 'completed' | 'p50Us' | 'p90Us' | 'p99Us' | 'maxUs' | 'meanUs'>): LoadResult {
  const sorted = Float64Array.from(latencies).sort()
  const sum = latencies.reduce((a, b) => a + b, 0)
  return {
    ...rest,
    completed: latencies.length,
    p50Us: percentile(sorted, 50),
    p90Us: percentile(sorted, 90),
    p99Us: percentile(sorted, 99),
    maxUs: sorted[sorted.length - 1] ?? 0,
    meanUs: latencies.length === 0 ? 0 : sum / latencies.length
  }
}

export interface PacedOptions {
  url: string
  secret: string
  /** Updates per second, sent on a fixed schedule whatever the answers take (open loop). */
  rate: number
  durationMs: number
  /** At most this many requests in flight (Telegram's max_connections); later ones wait for a socket. */
  connections: number
  sequence: Sequence
  timeoutMs?: number
}

/**
 * Sends updates at a fixed rate and times each from when it was due, not from when a socket was
 * free, so a server that falls behind shows it in the latency (no coordinated omission).
 */
export async function runPacedLoad (options: PacedOptions): Promise<LoadResult> {
  const { rate, durationMs, connections, sequence, secret, timeoutMs = 10_000 } = options
  const url = new URL(options.url)
  const agent = new Agent({ keepAlive: true, maxSockets: connections })
  const total = Math.max(1, Math.round(rate * durationMs / 1000))
  const intervalMs = 1000 / rate
  const latencies: number[] = []
  const ackedIds: number[] = []
  const statuses: Record<string, number> = {}
  const pending: Array<Promise<void>> = []
  let errors = 0
  let non2xx = 0
  let sent = 0
  const started = performance.now()
  const fire = (n: number, dueAt: number): Promise<void> => {
    const { updateId, body } = nthUpdate(sequence, n)
    return post(agent, url, secret, body, timeoutMs).then((status) => {
      latencies.push((performance.now() - dueAt) * 1000)
      if (status >= 200 && status < 300) ackedIds.push(updateId)
      else {
        non2xx++
        statuses[status] = (statuses[status] ?? 0) + 1
      }
    }, () => { errors++ })
  }
  while (sent < total) {
    const due = Math.min(total, Math.floor((performance.now() - started) / intervalMs) + 1)
    for (; sent < due; sent++) pending.push(fire(sent, started + sent * intervalMs))
    await sleep(1)
  }
  await Promise.all(pending)
  const durationUs = (performance.now() - started) * 1000
  agent.destroy()
  return summarize(latencies, { sent, non2xx, errors, durationUs, ackedIds, statuses })
}

export async function runNodeLoad (options: LoadOptions): Promise<LoadResult> {
  const { connections, sequence, secret, requests = Infinity, durationMs = Infinity, timeoutMs = 10_000 } = options
  if (!Number.isFinite(requests) && !Number.isFinite(durationMs)) throw new Error('give the load a request count or a duration')
  const url = new URL(options.url)
  const agent = new Agent({ keepAlive: true, maxSockets: connections })
  const latencies: number[] = []
  const ackedIds: number[] = []
  const statuses: Record<string, number> = {}
  let sent = 0
  let errors = 0
  let non2xx = 0
  const started = performance.now()
  const deadline = started + durationMs

  const worker = async (): Promise<void> => {
    while (sent < requests && performance.now() < deadline) {
      const { updateId, body } = nthUpdate(sequence, sent++)
      const t0 = performance.now()
      try {
        const status = await post(agent, url, secret, body, timeoutMs)
        latencies.push((performance.now() - t0) * 1000)
        if (status >= 200 && status < 300) ackedIds.push(updateId)
        else {
          non2xx++
          statuses[status] = (statuses[status] ?? 0) + 1
        }
      } catch {
        errors++
      }
    }
  }
  await Promise.all(Array.from({ length: connections }, worker))
  const durationUs = (performance.now() - started) * 1000
  agent.destroy()
  return summarize(latencies, { sent, non2xx, errors, durationUs, ackedIds, statuses })
}
