// The fuzz, at the probe's scale: generated requests (test/helpers/fuzz-requests.ts) sent to the
// running service over real sockets, most through Node's HTTP client on keep-alive connections,
// one in twenty written by hand with broken framing (raw-requests.ts). Every answer is judged
// (no 5xx, the status the rules give, a JSON refusal naming its reason); the service must stay up
// and still take a real update, and its wrong-secret warnings must stay one line a minute.
import fc from 'fast-check'
import { Agent, request } from 'node:http'
import { performance } from 'node:perf_hooks'
import { fuzzRequest, judge, type FuzzAnswer, type FuzzRequest } from '../../test/helpers/fuzz-requests.js'
import { runNodeLoad } from '../lib/node-load.js'
import { openRaw } from './raw.js'
import { firstAnswer, rawRequest, type RawRequest } from './raw-requests.js'
import { count, seconds, tally, warningLinesRow, type CheckResult } from './report.js'
import type { ProbeService } from './service.js'

export interface FuzzOptions {
  service: ProbeService
  requests: number
  concurrency: number
  seed: number
}

const BATCH = 1000
const RAW_EVERY = 20
const ANSWER_TIMEOUT_MS = 10_000
export const WRONG_SECRET_LINE = 'webhook call with a missing or wrong secret token'

type Outcome = { answer: FuzzAnswer } | { error: string } | 'reset while sending'

// The service answers a body it refuses unread (no secret, over 1 MiB...) and closes the connection
// rather than read the rest (src/routes/webhook.ts); a client still sending a large body may then
// see its write fail before it reads the answer. Expected, and counted apart.
const UNREAD_BODY_BYTES = 65_536

function send (agent: Agent, port: number, r: FuzzRequest): Promise<Outcome> {
  return new Promise((resolve) => {
    const headers = { ...r.headers, ...(r.chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(r.body.length) }) }
    const req = request({ host: '127.0.0.1', port, method: r.method, path: r.url, headers, agent, timeout: ANSWER_TIMEOUT_MS }, (res) => {
      const chunks: Buffer[] = []
      let size = 0
      res.on('data', (chunk: Buffer) => { if ((size += chunk.length) <= 65_536) chunks.push(chunk) })
      res.on('end', () => { resolve({ answer: { status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') } }) })
      res.on('error', (err) => { resolve({ error: `answer cut: ${err.message}` }) })
    })
    req.on('timeout', () => { req.destroy(new Error(`no answer within ${ANSWER_TIMEOUT_MS} ms`)) })
    req.on('error', (err: NodeJS.ErrnoException) => {
      const cut = (err.code === 'EPIPE' || err.code === 'ECONNRESET') && r.body.length > UNREAD_BODY_BYTES && r.expected !== 200
      resolve(cut ? 'reset while sending' : { error: err.code ?? err.message })
    })
    req.end(r.body)
  })
}

function sendRaw (port: number, r: RawRequest): Promise<Outcome | undefined> {
  const conn = openRaw(port)
  conn.socket.once('connect', () => { conn.socket.end(r.bytes) })
  const timer = setTimeout(() => { conn.socket.destroy() }, ANSWER_TIMEOUT_MS)
  return conn.closed.then(() => {
    clearTimeout(timer)
    const answer = firstAnswer(conn.received())
    if (answer !== undefined) return { answer }
    if (!r.answerOwed) return undefined
    if (r.bytes.length > UNREAD_BODY_BYTES && conn.received() === '') return 'reset while sending'
    return { error: conn.received() === '' ? 'closed without an answer' : `an answer that is not HTTP: ${JSON.stringify(conn.received().slice(0, 60))}` }
  })
}

interface Tally {
  statuses: Record<string, number>
  failures: number
  examples: string[]
  /** 401s for the webhook's secret: each one the service noted for its warning. */
  wrongSecrets: number
}

function record (t: Tally, label: string, outcome: Outcome | undefined, problemOf: (answer: FuzzAnswer) => string | undefined): void {
  if (outcome === undefined || outcome === 'reset while sending') {
    const key = outcome ?? 'no answer owed'
    t.statuses[key] = (t.statuses[key] ?? 0) + 1
    return
  }
  const key = 'answer' in outcome ? String(outcome.answer.status) : 'no answer'
  if ('answer' in outcome && outcome.answer.status === 401 && outcome.answer.body.includes('X-Telegram-Bot-Api-Secret-Token')) t.wrongSecrets++
  t.statuses[key] = (t.statuses[key] ?? 0) + 1
  const problem = 'answer' in outcome ? problemOf(outcome.answer) : outcome.error
  if (problem === undefined) return
  t.failures++
  if (t.examples.length < 8) t.examples.push(`${label}: ${problem}`)
}

/** Runs `work` over `items` with at most `concurrency` at once. */
async function pool<T> (items: T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) await work(items[next++] as T)
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
}

export async function probeFuzz ({ service, requests, concurrency, seed }: FuzzOptions): Promise<CheckResult & { examples: string[] }> {
  const port = Number(new URL(service.url).port)
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency })
  const http: Tally = { statuses: {}, failures: 0, examples: [], wrongSecrets: 0 }
  const raw: Tally = { statuses: {}, failures: 0, examples: [], wrongSecrets: 0 }
  let httpSent = 0
  const started = performance.now()
  // Batches, each from its own seed, so 100 000 requests are never all in memory at once.
  for (let batch = 0; batch * BATCH < requests; batch++) {
    const size = Math.min(BATCH, requests - batch * BATCH)
    const rawCount = Math.floor(size / RAW_EVERY)
    const cases = fc.sample(fuzzRequest(service.secret), { seed: seed + batch, numRuns: size - rawCount })
    const rawCases = rawCount === 0 ? [] : fc.sample(rawRequest(service.secret), { seed: seed + batch, numRuns: rawCount })
    httpSent += cases.length
    await Promise.all([
      pool(cases, concurrency, async (r) => { record(http, r.label, await send(agent, port, r), (answer) => judge(r, answer)) }),
      pool(rawCases, Math.max(1, concurrency / 4), async (r) => { record(raw, r.label, await sendRaw(port, r), (answer) => judge({ method: r.method, expected: undefined }, answer)) })
    ])
  }
  const elapsedMs = performance.now() - started
  agent.destroy()
  const alive = service.started.child.exitCode === null
  const after = await runNodeLoad({ url: `${service.url}/telegram/webhook`, secret: service.secret, connections: 1, requests: 10, sequence: { firstUpdateId: 8_000_000_000, firstUserId: 800_000_000, users: 10 } })
  const httpCount = Object.values(http.statuses).reduce((a, b) => a + b, 0)
  const rawCount = Object.values(raw.statuses).reduce((a, b) => a + b, 0)
  const wrongLinesStart = Date.now()
  return {
    examples: [...http.examples, ...raw.examples],
    afterStop: () => {
      // Raw requests framed so that the parser fails after the route ran (a body longer than its
      // Content-Length) lose their 401 with the connection: those are counted by the service only.
      const lines = service.logLines(WRONG_SECRET_LINE)
      return [warningLinesRow('fuzz', '"wrong secret" log lines in all, after the stop', lines, http.wrongSecrets + raw.wrongSecrets, elapsedMs + Date.now() - wrongLinesStart, true)]
    },
    rows: [
      {
        check: 'fuzz',
        what: `${count(httpCount)} generated requests over HTTP (seed ${seed}), ${seconds(elapsedMs)} s with the rest`,
        measured: tally(http.statuses),
        expected: 'no 5xx; every request answered (a large body refused unread may be reset)',
        ok: http.failures === 0 && httpCount === httpSent
      },
      {
        check: 'fuzz',
        what: 'the same, answers breaking a rule (status, JSON shape, a message naming the problem)',
        measured: count(http.failures),
        expected: '0',
        ok: http.failures === 0
      },
      {
        check: 'fuzz',
        what: `${count(rawCount)} written by hand with broken framing, each on its own connection`,
        measured: `${tally(raw.statuses)}; breaking a rule: ${count(raw.failures)}`,
        expected: 'no 5xx, each a JSON refusal naming its reason',
        ok: raw.failures === 0
      },
      {
        check: 'fuzz',
        what: 'afterwards: the service, and 10 real updates',
        measured: `${alive ? 'up' : 'EXITED'}; ${count(after.completed - after.non2xx)}/10 got 200`,
        expected: 'up, all 200',
        ok: alive && after.completed === 10 && after.non2xx === 0
      }
    ]
  }
}
