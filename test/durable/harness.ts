// The reliability tests' world: a throwaway PostgreSQL, the Bot API emulator in this process, web
// and worker processes of our own (test/durable/fixtures, run with `node --import tsx`), a load of
// text messages from many chats, and the reading of the emulator's outbox that says whether an
// update was lost, handled twice or out of its chat's order.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import type { User } from 'telegraf/types'
import type { BotControl } from '../../sandbox/control.js'
import { startEmulator, type Emulator } from '../../sandbox/emulator.js'
import { freePort, SANDBOX_TOKEN } from '../../sandbox/session.js'

export { freePort }
import { startPostgres, type PostgresTest, type TestPostgres } from '../helpers/postgres.js'
import { pause, waitUntil } from '../helpers/wait.js'

export const SECRET = 'reliability_secret-token'
/** A worker silent this long is taken for dead; short, so a test sees the takeover. */
export const WORKER_LOST_AFTER_MS = 3000
/**
 * Telegram's delays x0.05: retries go 0, 0.1, 0.2 ... 3.2 s, then 3-6 s; Retry-After: 5 means
 * 250 ms; the 60 s response timeout is 3 s. At x0.01 that timeout (600 ms) was missed by hundreds
 * of POSTs to a freshly started web process on this 2-core machine, and the retries of those
 * timeouts piled up load until the run took twice as long.
 */
export const TIME_SCALE = 0.05
export const CHATS = 200
export const PER_CHAT = 10

export interface ScenarioTest extends PostgresTest {
  passing: () => boolean
}

export interface Child {
  name: string
  pid: number
  /** Set by a worker: graphile-worker's pool id, the `locked_by` of the jobs it holds. */
  workerId: string | undefined
  /** What it printed (pino's JSON lines on stdout, anything on stderr). */
  output: string[]
  exited: boolean
  /** The exit code, or the signal's name, once exited. */
  exitCode: string | undefined
  /** The first parsed log line whose msg contains `text`, waited for up to `timeoutMs`. */
  logLine: (text: string, timeoutMs?: number) => Promise<Record<string, unknown>>
  /** SIGKILL, and wait until it is gone; the time the signal was sent. */
  kill9: () => Promise<number>
}

export interface World {
  pg: TestPostgres
  databaseUrl: string
  /** For the test's own queries; errors of idle clients (a database restart) are ignored. */
  db: pg.Pool
  emulator: Emulator
  bot: BotControl
  /** The handlers' start and end lines (fixtures/reply-bot.ts). */
  handlerLog: string
  /** A web or worker process, killed on teardown. */
  spawn: (name: string, kind: 'web' | 'worker', env: Record<string, string>) => Promise<Child>
  /** The environment every process gets; `extra` on top. */
  env: (extra: Record<string, string>) => Record<string, string>
  /** Marks in the handler log that a process is dead: its open handlers ended there. */
  noteKilled: (child: Child) => void
}

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url))
const READY_TIMEOUT_MS = 30_000

/** Postgres, the emulator and a temp dir, torn down with `t`; undefined when there is no PostgreSQL here. */
export async function startWorld (t: ScenarioTest): Promise<World | undefined> {
  const cluster = await startPostgres(t)
  if (cluster === undefined) return undefined
  const databaseUrl = await cluster.createDatabase()
  const db = new pg.Pool({ connectionString: databaseUrl, max: 2, connectionTimeoutMillis: 5000 })
  db.on('error', () => {})
  t.teardown(() => db.end())
  const emulator = await startEmulator({ local: true, timeScale: TIME_SCALE })
  t.teardown(() => emulator.close())
  const dir = mkdtempSync(join(tmpdir(), 'ingress-reliability-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const handlerLog = join(dir, 'handlers.log')
  writeFileSync(handlerLog, '')
  const children: Child[] = []
  // Children first (teardowns run in reverse order): no process outlives the database or emulator.
  t.teardown(async () => {
    if (!t.passing()) {
      for (const child of children) dumpOutput(t, child)
      t.comment(`jobs: ${await lockReport(db).catch((err: unknown) => String(err))}`)
    }
    await Promise.all(children.filter((child) => !child.exited).map(async (child) => await child.kill9()))
  })
  const env = (extra: Record<string, string>): Record<string, string> => ({
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    TELEGRAM_BOT_TOKEN: SANDBOX_TOKEN,
    TELEGRAM_API_ROOT: emulator.url,
    TELEGRAM_WEBHOOK_SECRET: SECRET,
    TELEGRAM_USE_WEBHOOK: 'true',
    HOST: '127.0.0.1',
    DATABASE_URL: databaseUrl,
    WORKER_LOST_AFTER_MS: String(WORKER_LOST_AFTER_MS),
    SHUTDOWN_TIMEOUT_MS: '500',
    LOG_LEVEL: 'info',
    TEST_HANDLER_LOG: handlerLog,
    ...extra
  })
  return {
    pg: cluster,
    databaseUrl,
    db,
    emulator,
    bot: emulator.control.bot(SANDBOX_TOKEN),
    handlerLog,
    env,
    spawn: async (name, kind, childEnv) => {
      const child = await spawnFixture(name, kind, childEnv)
      children.push(child)
      return child
    },
    noteKilled: (child) => { appendFileSync(handlerLog, `K ${child.pid}\n`) }
  }
}

function dumpOutput (t: { comment: (...message: unknown[]) => void }, child: Child): void {
  const notable = child.output.filter((line) => !line.startsWith('{') || /"level":(40|50|60)/.test(line))
  t.comment(`${child.name} (pid ${child.pid}): ${child.output.length} lines, warnings and errors:\n${notable.slice(-30).join('\n')}`)
}

async function spawnFixture (name: string, kind: 'web' | 'worker', env: Record<string, string>): Promise<Child> {
  const proc: ChildProcess = spawn(process.execPath, ['--import', 'tsx', join(FIXTURES, `${kind}.ts`)], {
    env,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc']
  })
  const exit = once(proc, 'exit')
  const child: Child = {
    name,
    pid: proc.pid ?? 0,
    workerId: undefined,
    output: [],
    exited: false,
    exitCode: undefined,
    logLine: async (text, timeoutMs = 5000) => {
      const find = (): Record<string, unknown> | undefined => child.output
        .filter((line) => line.startsWith('{') && line.includes(text))
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .find((entry) => typeof entry.msg === 'string' && entry.msg.includes(text))
      await waitUntil(() => find() !== undefined, timeoutMs, () => `"${text}" in the log of ${name}`)
      return find() ?? {}
    },
    kill9: async () => {
      const at = Date.now()
      if (!child.exited) {
        proc.kill('SIGKILL')
        await exit
      }
      return at
    }
  }
  exit.then(([code, signal]) => {
    child.exited = true
    child.exitCode = String(code ?? signal)
  }, () => {})
  for (const stream of [proc.stdout, proc.stderr]) {
    let rest = ''
    stream?.on('data', (chunk: Buffer) => {
      const lines = (rest + chunk.toString('utf8')).split('\n')
      rest = lines.pop() ?? ''
      child.output.push(...lines)
    })
  }
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`${name} not ready within ${READY_TIMEOUT_MS} ms:\n${child.output.slice(-20).join('\n')}`))
    }, READY_TIMEOUT_MS)
    proc.on('message', (message: { ready?: boolean, workerId?: string }) => {
      if (message.ready !== true) return
      clearTimeout(timer)
      child.workerId = message.workerId
      resolve()
    })
    exit.then(([code]) => {
      clearTimeout(timer)
      reject(new Error(`${name} exited with ${String(code)} before it was ready:\n${child.output.slice(-20).join('\n')}`))
    }, () => {})
  })
  try {
    await ready
  } catch (err) {
    await child.kill9()
    throw err
  }
  return child
}

export interface Reply {
  updateId: number
  chatId: number
  /** When the emulator got the sendMessage (this process's clock). */
  at: number
}

export interface Load {
  total: number
  /** Every reply the bot sent, in the order the emulator received them. */
  replies: Reply[]
  /** Distinct update_ids replied so far. */
  repliedIds: Set<number>
  /** The update_ids of each chat, in the order they were sent. */
  sentByChat: Map<number, number[]>
}

/** The users who write to the bot, one private chat each. */
function users (count: number): User[] {
  return Array.from({ length: count }, (_, i) => ({ id: 300_000_000 + i, is_bot: false, first_name: `User${i}` }))
}

/**
 * `perChat` text messages from each of `chats` users, injected round by round (update_ids
 * interleave the chats, as concurrent users do), so the emulator's look-ahead of 2 x
 * max_connections pending updates sees every chat's head.
 */
export function injectLoad (bot: BotControl, chats = CHATS, perChat = PER_CHAT): Load {
  const load: Load = { total: 0, replies: [], repliedIds: new Set(), sentByChat: new Map() }
  bot.onSent((sent) => {
    const match = /^got (\d+)$/.exec('text' in sent.message ? sent.message.text : '')
    if (match === null) return
    const updateId = Number(match[1])
    load.replies.push({ updateId, chatId: sent.chatId, at: Date.now() })
    load.repliedIds.add(updateId)
  })
  const senders = users(chats)
  for (let round = 0; round < perChat; round++) {
    for (const from of senders) {
      const update = bot.injectText(`message ${round + 1} of ${from.first_name}`, { from })
      if (update === undefined) throw new Error('the emulator filtered a text message out')
      const ids = load.sentByChat.get(from.id) ?? []
      ids.push(update.update_id)
      load.sentByChat.set(from.id, ids)
      load.total++
    }
  }
  return load
}

export interface Verdict {
  /** Update_ids sent and never replied. */
  lost: number[]
  /** Update_ids replied more than once. */
  doubled: number[]
  /** Replies beyond the first of their update. */
  extraReplies: number
  /** Chats whose first replies are not in update_id order. */
  outOfOrder: number[]
  /** Replies to update_ids nobody sent. */
  strangers: number
}

export function verdictOf (load: Load): Verdict {
  const counts = new Map<number, number>()
  for (const reply of load.replies) counts.set(reply.updateId, (counts.get(reply.updateId) ?? 0) + 1)
  const sent = new Set([...load.sentByChat.values()].flat())
  const lost = [...sent].filter((id) => !counts.has(id)).sort((a, b) => a - b)
  const doubled = [...counts].filter(([, n]) => n > 1).map(([id]) => id).sort((a, b) => a - b)
  const extraReplies = [...counts.values()].reduce((sum, n) => sum + n - 1, 0)
  const firstByChat = new Map<number, number[]>()
  const seen = new Set<number>()
  for (const reply of load.replies) {
    if (seen.has(reply.updateId)) continue
    seen.add(reply.updateId)
    const list = firstByChat.get(reply.chatId) ?? []
    list.push(reply.updateId)
    firstByChat.set(reply.chatId, list)
  }
  const outOfOrder = [...firstByChat].filter(([, ids]) => ids.some((id, i) => i > 0 && id < (ids[i - 1] ?? 0))).map(([chat]) => chat)
  const strangers = [...counts.keys()].filter((id) => !sent.has(id)).length
  return { lost, doubled, extraReplies, outOfOrder, strangers }
}

/** A short text for t.comment and assertion messages: counts, and the first few ids. */
export function describe (verdict: Verdict): string {
  const few = (ids: number[]): string => ids.length === 0 ? '0' : `${ids.length} (${ids.slice(0, 10).join(', ')}${ids.length > 10 ? ', ...' : ''})`
  return `lost ${few(verdict.lost)}, doubled ${few(verdict.doubled)}, out of order chats ${few(verdict.outOfOrder)}, strangers ${verdict.strangers}`
}

export interface Overlap {
  chatId: number
  running: number
  started: number
}

export interface HandlerStart {
  pid: number
  /** Date.now() in the handler's process: the same machine's clock as the test's. */
  at: number
}

export interface HandlerRuns {
  /** Two handlers of one chat running at once (the first not ended by its process's death). */
  overlaps: Overlap[]
  /** The starts of each update's handler, in order. */
  startsOf: Map<number, HandlerStart[]>
}

/**
 * Reads the handler log (S/E lines from the handlers, K lines for killed processes) in the order it
 * was written: a chat's handler starting while another of that chat has started and not ended is
 * an overlap, unless the process running the other one was killed in between.
 */
export function readHandlerLog (file: string): HandlerRuns {
  const open = new Map<number, { updateId: number, pid: number }>()
  const overlaps: Overlap[] = []
  const startsOf = new Map<number, HandlerStart[]>()
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const [mark, ...fields] = line.split(' ')
    const [a, b, c, d] = fields.map(Number)
    if (mark === 'K' && a !== undefined) {
      for (const [chat, run] of open) if (run.pid === a) open.delete(chat)
      continue
    }
    if ((mark !== 'S' && mark !== 'E') || a === undefined || b === undefined || c === undefined || d === undefined) continue
    const [chatId, updateId, pid, at] = [a, b, c, d]
    if (mark === 'S') {
      const running = open.get(chatId)
      if (running !== undefined) overlaps.push({ chatId, running: running.updateId, started: updateId })
      open.set(chatId, { updateId, pid })
      startsOf.set(updateId, [...(startsOf.get(updateId) ?? []), { pid, at }])
    } else if (open.get(chatId)?.updateId === updateId) {
      open.delete(chatId)
    }
  }
  return { overlaps, startsOf }
}

/** Jobs of our task still in graphile-worker's table (pending, running, or failed for good). */
export async function jobsLeft (db: pg.Pool): Promise<number> {
  const { rows: [row] } = await db.query<{ n: string }>('select count(*) as n from graphile_worker.jobs')
  return Number(row?.n ?? 0)
}

/**
 * The update_ids of the jobs a worker holds (locked_by its pool id). From graphile-worker's table
 * rather than its `jobs` view, which leaves the payload out.
 */
export async function jobsHeldBy (db: pg.Pool, workerId: string): Promise<number[]> {
  const { rows } = await db.query<{ update_id: string }>(
    "select payload->>'update_id' as update_id from graphile_worker._private_jobs where locked_by = $1 order by id", [workerId])
  return rows.map((row) => Number(row.update_id))
}

/** Who holds which jobs and chat queues, and what waits: for the comment of a failed test. */
export async function lockReport (db: pg.Pool): Promise<string> {
  const { rows } = await db.query<{ locked_by: string | null, jobs: number, queues: number, since: Date | null }>(
    `select j.locked_by, count(*)::int as jobs, min(j.locked_at) as since,
       (select count(*)::int from graphile_worker._private_job_queues q where q.locked_by is not distinct from j.locked_by and q.locked_at is not null) as queues
     from graphile_worker._private_jobs j group by j.locked_by`)
  const { rows: beats } = await db.query<{ id: string, age: number }>(
    'select id, extract(epoch from now() - seen_at)::float8 as age from telegram_ingress.workers')
  const holders = rows.map((r) => r.locked_by === null
    ? `${r.jobs} waiting unlocked`
    : `${r.jobs} locked by ${r.locked_by} since ${r.since?.toISOString() ?? '?'} (${r.queues} chat queues)`)
  return `${holders.join('; ') || 'none left'}; heartbeats: ${beats.map((b) => `${b.id} ${b.age.toFixed(1)} s ago`).join(', ') || 'none'}`
}

/** Stored updates by state: every one should end 'done'. */
export async function updateStates (db: pg.Pool): Promise<Record<string, number>> {
  const { rows } = await db.query<{ state: string, n: string }>('select state, count(*) as n from telegram_ingress.updates group by state')
  return Object.fromEntries(rows.map((row) => [row.state, Number(row.n)]))
}

/**
 * Waits until every update was replied to and no job is left, so no late reply can still come
 * (a double shows up before this returns, or never). Throws naming what is missing at the deadline.
 */
export async function settle (world: World, load: Load, timeoutMs: number, alive: Child[] = []): Promise<void> {
  const dead = (): Child[] => alive.filter((child) => child.exited)
  await waitUntil(() => load.repliedIds.size >= load.total || dead().length > 0, timeoutMs,
    () => `replies to all ${load.total} updates; ${load.repliedIds.size} replied, emulator ${JSON.stringify(world.bot.deliveryStats())}, ${world.bot.pendingUpdates().length} pending at the emulator`)
  if (dead().length > 0) {
    throw new Error(`${dead().map((child) => `${child.name} exited (${child.exitCode ?? '?'})`).join(', ')} with ${load.repliedIds.size}/${load.total} updates replied to`)
  }
  const deadline = Date.now() + 10_000
  for (;;) {
    const left = await jobsLeft(world.db).catch(() => -1)
    if (left === 0) break
    if (Date.now() > deadline) throw new Error(`${left} jobs still in graphile_worker.jobs 10 s after the last first reply`)
    await pause(100)
  }
  // A reply in flight when its job completed (it cannot be: the job completes after the handler).
  await pause(200)
}

export interface Proxy {
  url: string
  /** Answers by HTTP status; 502 when the upstream could not be reached. */
  statuses: Map<number, number>
  /** The upstream POSTs go to, round robin. */
  targets: string[]
  /** 2xx answers by target. */
  okBy: Map<string, number>
}

/**
 * One address in front of the web processes, like a load balancer: each POST goes to the next
 * target in turn, and its answer's status is counted (the emulator keeps only its last 1000
 * delivery records). An upstream that cannot be reached gives a 502, which Telegram retries.
 */
export async function startProxy (t: { teardown: (fn: () => unknown) => void }, targets: string[]): Promise<Proxy> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 200 })
  const proxy: Proxy = { url: '', statuses: new Map(), targets, okBy: new Map() }
  let next = 0
  const count = (status: number): void => { proxy.statuses.set(status, (proxy.statuses.get(status) ?? 0) + 1) }
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const target = proxy.targets[next++ % proxy.targets.length] ?? ''
      const upstream = http.request(`${target}${req.url ?? '/'}`, { method: req.method, agent, headers: req.headers }, (answer) => {
        const body: Buffer[] = []
        answer.on('data', (chunk: Buffer) => body.push(chunk))
        answer.on('end', () => {
          count(answer.statusCode ?? 0)
          if ((answer.statusCode ?? 0) < 300) proxy.okBy.set(target, (proxy.okBy.get(target) ?? 0) + 1)
          const headers = { ...answer.headers }
          delete headers.connection
          res.writeHead(answer.statusCode ?? 502, headers).end(Buffer.concat(body))
        })
        answer.on('error', () => { count(502); res.writeHead(502).end() })
      })
      upstream.on('error', () => {
        count(502)
        if (!res.headersSent) res.writeHead(502).end()
      })
      upstream.end(Buffer.concat(chunks))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  proxy.url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`
  t.teardown(async () => {
    agent.destroy()
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => { resolve() }))
  })
  return proxy
}

/** Every field of a count map, for a comment: "200: 2010, 503: 87". */
export function statusesText (statuses: Map<number, number>): string {
  return [...statuses].sort(([a], [b]) => a - b).map(([status, n]) => `${status}: ${n}`).join(', ')
}
