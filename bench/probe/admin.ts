// Guessing the admin token (issue 13, finding 4): M wrong bearer tokens at set-webhook from one
// address. After ADMIN_CALLS_PER_MINUTE guesses every answer must be 429 with a Retry-After, and the
// warnings must be one line at once and then one a minute. Then the same from a new X-Forwarded-For
// each time, which only a trusted proxy (loopback, a private network: Caddy) can send: the limit
// is per client address, so there it holds per address, not per token.
import { randomBytes } from 'node:crypto'
import { Agent, request } from 'node:http'
import { performance } from 'node:perf_hooks'
import { ADMIN_CALLS_PER_MINUTE } from '../../src/routes/admin.js'
import { count, tally, warningLinesRow, type CheckResult, type Row } from './report.js'
import type { ProbeService } from './service.js'

export interface AdminOptions {
  service: ProbeService
  guesses: number
  /** Guesses from as many X-Forwarded-For addresses. */
  spoofed: number
}

export const WRONG_TOKEN_LINE = 'admin call with a wrong token'

interface Guessed { statuses: Record<string, number>, retryAfter: Set<string>, perSecond: number, unauthorized: number }

function guess (agent: Agent, service: ProbeService, forwardedFor?: string): Promise<{ status: number, retryAfter: string | undefined }> {
  return new Promise((resolve) => {
    const req = request(`${service.url}/telegram/set-webhook`, {
      method: 'POST',
      agent,
      headers: {
        authorization: `Bearer ${randomBytes(24).toString('hex')}`,
        'content-type': 'application/json',
        ...(forwardedFor !== undefined && { 'x-forwarded-for': forwardedFor })
      }
    }, (res) => {
      res.resume()
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] }) })
    })
    req.on('error', () => { resolve({ status: 0, retryAfter: undefined }) })
    req.end('{}')
  })
}

async function guessMany (service: ProbeService, n: number, forwardedFor?: (i: number) => string): Promise<Guessed> {
  const agent = new Agent({ keepAlive: true, maxSockets: 10 })
  const statuses: Record<string, number> = {}
  const retryAfter = new Set<string>()
  const started = performance.now()
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++
      const answer = await guess(agent, service, forwardedFor?.(i))
      statuses[answer.status] = (statuses[answer.status] ?? 0) + 1
      if (answer.status === 429) retryAfter.add(answer.retryAfter ?? 'none')
    }
  }
  await Promise.all(Array.from({ length: 10 }, worker))
  agent.destroy()
  return { statuses, retryAfter, perSecond: n / ((performance.now() - started) / 1000), unauthorized: statuses[401] ?? 0 }
}

export async function probeAdmin ({ service, guesses, spoofed }: AdminOptions): Promise<CheckResult> {
  const started = Date.now()
  const one = await guessMany(service, guesses)
  const linesAtOnce = service.logLines(WRONG_TOKEN_LINE).length
  const many = await guessMany(service, spoofed, (i) => `198.51.100.${1 + i % 250}, 10.0.${Math.floor(i / 250)}.1`)
  const limited = one.statuses[429] ?? 0
  const rows: Row[] = [
    {
      check: 'admin brute force',
      what: `${count(guesses)} wrong tokens from one address`,
      measured: `${tally(one.statuses)}; Retry-After ${[...one.retryAfter].join('/') || '-'} s; ${count(Math.round(one.perSecond))} guesses/s`,
      expected: `401 x${ADMIN_CALLS_PER_MINUTE}, then 429 with Retry-After`,
      ok: one.unauthorized === Math.min(guesses, ADMIN_CALLS_PER_MINUTE) && limited === guesses - one.unauthorized && !one.retryAfter.has('none')
    },
    {
      check: 'admin brute force',
      what: `"${WRONG_TOKEN_LINE}" log lines meanwhile`,
      measured: count(linesAtOnce),
      expected: '1 (then 1 a minute with the count)',
      ok: linesAtOnce === 1
    }
  ]
  if (spoofed > 0) {
    rows.push({
      check: 'admin brute force',
      what: `${count(spoofed)} more, each from a new X-Forwarded-For (only a trusted proxy's is believed)`,
      measured: tally(many.statuses),
      expected: `per address: ${ADMIN_CALLS_PER_MINUTE} a minute each`,
      ok: undefined
    })
  }
  return {
    rows,
    afterStop: () => [warningLinesRow('admin brute force', `"${WRONG_TOKEN_LINE}" log lines in all, after the stop`, service.logLines(WRONG_TOKEN_LINE), one.unauthorized + many.unauthorized, Date.now() - started)]
  }
}
