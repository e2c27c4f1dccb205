// The durable worker against a real PostgreSQL: per-chat order and one handler at a time per chat
// across two workers, a throwing handler retried while its chat waits, then kept as failed without
// holding the chat, a Bot API 429 waited out, and the operators' commands (admin-cli).
import pg from 'pg'
import t from 'tap'
import { TelegramError } from 'telegraf'
import type { Update } from 'telegraf/types'
import { runAdminCommand } from '../../src/admin-cli.js'
import { DurableStore } from '../../src/durable/store.js'
import { UpdateWorker, type UpdateWorkerOptions } from '../../src/durable/worker.js'
import { typedTextUpdate } from '../helpers/app.js'
import { LogCapture } from '../helpers/log-capture.js'
import { startPostgres } from '../helpers/postgres.js'
import { quiet, waitUntil } from '../helpers/wait.js'
import { createLogger, SecretScrubber } from '../../src/logger.js'

interface Teardown { teardown: (fn: () => unknown) => void }

async function storeFor (t: Teardown, url: string): Promise<DurableStore> {
  const store = new DurableStore(url, quiet)
  t.teardown(() => store.close())
  await store.migrate()
  return store
}

function workerFor (t: Teardown, url: string, handle: UpdateWorkerOptions['handle'], options: Partial<UpdateWorkerOptions> = {}): UpdateWorker {
  const worker = new UpdateWorker({ databaseUrl: url, handle, log: quiet, concurrency: 5, lostAfterMs: 60_000, maxAttempts: 3, retentionHours: 48, retryDelayMs: 20, ...options })
  t.teardown(() => worker.stop())
  return worker
}

async function states (url: string): Promise<Map<number, { state: string, attempts: number, last_error: string | null }>> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const { rows } = await client.query<{ update_id: string, state: string, attempts: number, last_error: string | null }>('select update_id, state, attempts, last_error from telegram_ingress.updates')
    return new Map(rows.map((r) => [Number(r.update_id), { state: r.state, attempts: r.attempts, last_error: r.last_error }]))
  } finally {
    await client.end()
  }
}

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }
const chatOf = (update: Update): number => (update as Update.MessageUpdate).message.chat.id

t.test('two workers run each chat\'s updates one at a time, in the order they were stored', async (t) => {
  const pgs = await startPostgres(t)
  if (pgs === undefined) return
  const url = await pgs.createDatabase()
  const store = await storeFor(t, url)
  const chats = 20
  const perChat = 8
  let id = 1
  // A chat's updates stored back to back: without per-chat queues, the ten slots would take several
  // of one chat at once.
  for (let chat = 1; chat <= chats; chat++) {
    for (let n = 0; n < perChat; n++) t.equal(await store.store(typedTextUpdate(`m${n}`, chat, id++)), 'stored')
  }
  const order = new Map<number, number[]>()
  const running = new Set<number>()
  const overlaps: string[] = []
  let concurrent = 0
  let peak = 0
  const handle = async (update: Update): Promise<void> => {
    const chat = chatOf(update)
    if (running.has(chat)) overlaps.push(`chat ${chat} update ${update.update_id}`)
    running.add(chat)
    peak = Math.max(peak, ++concurrent)
    await sleep(1 + (update.update_id * 7) % 5)
    order.set(chat, [...(order.get(chat) ?? []), update.update_id])
    running.delete(chat)
    concurrent--
  }
  const a = workerFor(t, url, handle)
  const b = workerFor(t, url, handle)
  await Promise.all([a.start(), b.start()])
  await waitUntil(() => a.stats.handled + b.stats.handled === chats * perChat, 30_000, () => `handled ${a.stats.handled + b.stats.handled} of ${chats * perChat}`)
  t.same(overlaps, [], 'never two handlers of one chat at once')
  for (const [chat, ids] of order) t.same(ids, [...ids].sort((x, y) => x - y), `chat ${chat} in update_id order`)
  t.ok(a.stats.handled > 0 && b.stats.handled > 0, `both workers took jobs (${a.stats.handled} and ${b.stats.handled})`)
  t.ok(peak > 1, `chats ran in parallel (peak ${peak})`)
  t.ok([...(await states(url)).values()].every((s) => s.state === 'done' && s.attempts === 1), 'every update marked done after one run')
})

t.test('a throwing handler is retried while its chat waits, then kept as failed; retry-failed and replay run it again', async (t) => {
  const pgs = await startPostgres(t)
  if (pgs === undefined) return
  const url = await pgs.createDatabase()
  const store = await storeFor(t, url)
  const logs = new LogCapture()
  const scrubber = new SecretScrubber()
  const log = createLogger(scrubber, logs, 'info')
  // Chat 1: update 1 fails twice then works; chat 2: update 3 always fails; both chats have a next update.
  for (const [chat, updateId] of [[1, 1], [1, 2], [2, 3], [2, 4]] as const) await store.store(typedTextUpdate('x', chat, updateId))
  const runs: number[] = []
  let brokenFixed = false
  const handle = async (update: Update): Promise<void> => {
    runs.push(update.update_id)
    if (update.update_id === 1 && runs.filter((r) => r === 1).length < 3) throw new Error('flaky backend')
    if (update.update_id === 3 && !brokenFixed) throw new Error('bug in the handler')
  }
  const worker = workerFor(t, url, handle, { log, concurrency: 2 })
  await worker.start()
  await waitUntil(() => worker.stats.handled === 3 && worker.stats.failed === 1, 20_000, () => `handled ${worker.stats.handled}, failed ${worker.stats.failed}`)
  const chat1 = runs.filter((r) => r === 1 || r === 2)
  t.same(chat1, [1, 1, 1, 2], 'chat 1: its update 2 ran only after update 1\'s third, successful run')
  const chat2 = runs.filter((r) => r === 3 || r === 4)
  t.same(chat2, [3, 3, 3, 4], 'chat 2: three runs of update 3 (TELEGRAM_HANDLER_MAX_ATTEMPTS), then its next update')
  const after = await states(url)
  t.same(after.get(1), { state: 'done', attempts: 3, last_error: null })
  t.match(after.get(3), { state: 'failed', attempts: 3, last_error: 'Error: bug in the handler' })
  const failures = logs.find('update handler failed')
  t.ok(failures.some((l) => l.update_id === 3 && l.type === 'message' && l.attempt === 3 && (l.err as { message: string }).message === 'bug in the handler' && String(l.msg).includes('kept as failed')), 'the dead letter is logged with update_id, type and error')
  t.equal(failures.filter((l) => String(l.msg).includes('trying again')).length, 4, 'each retry is logged')

  const jobs = await runAdminCommand(['jobs'], { DATABASE_URL: url })
  t.equal(jobs.code, 0)
  t.match(JSON.parse(jobs.output), { pending: 0, running: 0, failed: 1 })

  brokenFixed = true
  const retried = await runAdminCommand(['retry-failed'], { DATABASE_URL: url })
  t.same(retried, { code: 0, output: '1 failed update(s) queued again' })
  await waitUntil(() => worker.stats.handled === 4, 10_000, () => `handled ${worker.stats.handled}`)
  t.match((await states(url)).get(3), { state: 'done', attempts: 1, last_error: null })

  const replayed = await runAdminCommand(['replay', '2'], { DATABASE_URL: url })
  t.same(replayed, { code: 0, output: 'update 2 queued again' })
  await waitUntil(() => worker.stats.handled === 5, 10_000, () => `handled ${worker.stats.handled}`)
  t.equal(runs.filter((r) => r === 2).length, 2, 'a replayed update runs again, even though it was done')

  t.same(await runAdminCommand(['replay', '999'], { DATABASE_URL: url }), { code: 1, output: 'update 999 is not stored (never received, or pruned after TELEGRAM_UPDATE_RETENTION_HOURS)' })
  t.equal((await runAdminCommand(['replay', 'x'], { DATABASE_URL: url })).code, 2)
  t.equal((await runAdminCommand(['jobs'], {})).code, 2, 'without DATABASE_URL: a usage error that says why')
})

t.test('a Bot API 429 inside a handler: the job waits retry_after before the next run', async (t) => {
  const pgs = await startPostgres(t)
  if (pgs === undefined) return
  const url = await pgs.createDatabase()
  const store = await storeFor(t, url)
  await store.store(typedTextUpdate('x', 1, 1))
  const at: number[] = []
  const handle = async (): Promise<void> => {
    at.push(Date.now())
    if (at.length === 1) throw new TelegramError({ error_code: 429, description: 'Too Many Requests: retry after 1', parameters: { retry_after: 1 } })
  }
  // A plain failure would be retried after 20 ms here; the 429 says 1 s.
  const worker = workerFor(t, url, handle)
  await worker.start()
  await waitUntil(() => worker.stats.handled === 1, 10_000, () => `runs ${at.length}`)
  t.equal(at.length, 2)
  t.ok((at[1] ?? 0) - (at[0] ?? 0) >= 950, `the second run came ${(at[1] ?? 0) - (at[0] ?? 0)} ms later (retry_after 1 s)`)
})

t.test('a chat\'s stored backlog runs back to back, not one update per poll', async (t) => {
  const pgs = await startPostgres(t)
  if (pgs === undefined) return
  const url = await pgs.createDatabase()
  const store = await storeFor(t, url)
  for (let id = 1; id <= 30; id++) await store.store(typedTextUpdate('x', 1, id))
  const handled: number[] = []
  // Polling once a minute: only the nudge after each completed job can keep the chat moving.
  const worker = workerFor(t, url, async (update) => { handled.push(update.update_id) }, { pollIntervalMs: 60_000 })
  await worker.start()
  // Without the nudge 5 of 30 ran in 10 s; with it, 30 in 0.2 s on a quiet machine. The deadline
  // is for a loaded CI machine (the last nudge comes 500 ms after a job).
  await waitUntil(() => handled.length === 30, 25_000, () => `handled ${handled.length} of 30`)
  t.same(handled, Array.from({ length: 30 }, (_, i) => i + 1))
})
