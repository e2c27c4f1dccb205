// The durable mode's webhook against a real PostgreSQL: a 200 means committed (row + job), a
// redelivery is not stored twice, and a database that fails gives 503 + Retry-After, never a 200.
import pg from 'pg'
import t from 'tap'
import { buildTestApp, postUpdate, textUpdate, type Teardown } from '../helpers/app.js'
import { startPostgres } from '../helpers/postgres.js'
import { waitUntil } from '../helpers/wait.js'

async function durableApp (tt: Teardown, url: string): Promise<Awaited<ReturnType<typeof buildTestApp>>> {
  // No worker in the web process: these tests look at what the webhook stored, not at the bot.
  const built = await buildTestApp(tt, { DATABASE_URL: url, TELEGRAM_RUN_WORKER: 'false' }, { warningIntervalMs: 60_000 })
  await built.app.store?.migrate()
  return built
}

async function rows (url: string, sql: string, values: unknown[] = []): Promise<Array<Record<string, unknown>>> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query(sql, values)).rows
  } finally {
    await client.end()
  }
}

t.test('a 200 means the update and its job are committed, once per update_id', async (t) => {
  const pgs = await startPostgres(t)
  if (pgs === undefined) return
  const url = await pgs.createDatabase()
  const { app } = await durableApp(t, url)

  const update = textUpdate('hello', 4242, 5001)
  const first = await postUpdate(app, update)
  t.equal(first.statusCode, 200)
  const stored = await rows(url, 'select update_id, chat_key, type, state, body from telegram_ingress.updates')
  t.same(stored.map((r) => [Number(r.update_id), r.chat_key, r.type, r.state]), [[5001, 'chat:4242', 'message', 'pending']])
  t.same(stored[0]?.body, update, 'the whole update is stored, as received')
  const jobs = await rows(url, 'select task_identifier, queue_name, max_attempts from graphile_worker.jobs')
  t.same(jobs, [{ task_identifier: 'telegram_update', queue_name: 'chat:4242', max_attempts: 25 }], 'one job, in the chat\'s queue')

  const again = await postUpdate(app, update)
  t.equal(again.statusCode, 200, 'a redelivery is acknowledged')
  t.equal((await rows(url, 'select 1 from graphile_worker.jobs')).length, 1, 'and not queued again')
  t.same(app.ingress.stats, { stored: 1, duplicates: 1, unavailable: 0, inFlight: 0 })

  // A second replica (another app on the same database) knows the update too.
  const { app: replica } = await durableApp(t, url)
  t.equal((await postUpdate(replica, update)).statusCode, 200)
  t.equal(replica.ingress.stats.duplicates, 1, 'the other replica sees it as a redelivery')
  t.equal((await rows(url, 'select 1 from graphile_worker.jobs')).length, 1)
})

t.test('the database down: 503 with Retry-After, webhook-info says so, and it recovers by itself', async (t) => {
  const pgs = await startPostgres(t)
  if (pgs === undefined) return
  const url = await pgs.createDatabase()
  const { app, logs } = await durableApp(t, url)
  t.equal((await postUpdate(app, textUpdate('before', 7, 6001))).statusCode, 200)

  await pgs.stop()
  const refused = await postUpdate(app, textUpdate('during', 7, 6002))
  t.equal(refused.statusCode, 503, 'not a 200: the update is not stored')
  t.equal(refused.headers['retry-after'], '5')
  t.match(refused.json(), { message: /Database unavailable/ })
  const health = await app.inject({ method: 'GET', url: '/telegram/webhook-info' })
  t.equal(health.statusCode, 503, 'the health probe fails while the database does')
  t.match(health.json(), { ok: false, durable: true, database: { ok: false, error: String } })
  t.ok(logs.find('update not stored: the database failed').some((l) => l.update_id === 6002), 'the refusal is logged with the update_id')
  t.notOk(logs.text.includes(url), 'the database URL is not logged')

  await pgs.start()
  const after = await postUpdate(app, textUpdate('during', 7, 6002))
  t.equal(after.statusCode, 200, 'Telegram\'s resend is stored once the database is back')
  const ids = (await rows(url, 'select update_id from telegram_ingress.updates order by update_id')).map((r) => Number(r.update_id))
  t.same(ids, [6001, 6002])
  // The health cache lives 2 s; the verdict comes back with the database.
  await new Promise((resolve) => setTimeout(resolve, 2100))
  const healthy = await app.inject({ method: 'GET', url: '/telegram/webhook-info' })
  t.match(healthy.json(), { durable: true, database: { ok: true, jobs: { pending: 2, running: 0, failed: 0 } } })
})

t.test('migrations run once when several processes start together', async (t) => {
  const pgs = await startPostgres(t)
  if (pgs === undefined) return
  const url = await pgs.createDatabase()
  const apps = await Promise.all([1, 2, 3].map(async () => (await buildTestApp(t, { DATABASE_URL: url, TELEGRAM_RUN_WORKER: 'false' })).app))
  await Promise.all(apps.map(async (app) => { await app.store?.migrate() }))
  t.same(await rows(url, 'select id from telegram_ingress.migrations'), [{ id: 1 }])
  for (const [i, app] of apps.entries()) t.equal((await postUpdate(app, textUpdate('x', 1, 7000 + i))).statusCode, 200)
})

t.test('closing the app lets the stores in flight commit before the pool closes', async (t) => {
  const pgs = await startPostgres(t)
  if (pgs === undefined) return
  const url = await pgs.createDatabase()
  const { app } = await durableApp(t, url)
  // More than the pool's 10 connections: most wait for one when close() begins.
  const answers = Array.from({ length: 60 }, async (_, i) => await postUpdate(app, textUpdate('x', 100 + i, 9000 + i)))
  await waitUntil(() => app.ingress.inFlight >= 30, 5000, () => `${app.ingress.inFlight} stores in flight`)
  await app.close()
  const statuses = (await Promise.all(answers)).map((r) => r.statusCode)
  t.same([...new Set(statuses)], [200], `every update answered 200 (got ${JSON.stringify(statuses)})`)
  t.equal((await rows(url, 'select 1 from telegram_ingress.updates')).length, 60, 'and every one of them stored')
})
