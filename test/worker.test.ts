// src/worker.ts: the worker process's start, against the Bot API emulator and a throwaway PostgreSQL.
import pg from 'pg'
import t from 'tap'
import { startEmulator } from '../sandbox/emulator.js'
import { SANDBOX_TOKEN } from '../sandbox/session.js'
import { startWorker } from '../src/worker.js'
import { LogCapture } from './helpers/log-capture.js'
import { startPostgres } from './helpers/postgres.js'
import { within } from './helpers/wait.js'

t.test('startWorker migrates a fresh database, beats, and leaves the heartbeat table on stop', async (t) => {
  const cluster = await startPostgres(t)
  if (cluster === undefined) return
  const databaseUrl = await cluster.createDatabase()
  const emulator = await startEmulator({ local: true })
  t.teardown(() => emulator.close())
  const abort = new AbortController()
  const logs = new LogCapture()
  const starting = startWorker({
    env: { TELEGRAM_BOT_TOKEN: SANDBOX_TOKEN, TELEGRAM_API_ROOT: emulator.url, DATABASE_URL: databaseUrl, LOG_LEVEL: 'info' },
    logStream: logs,
    signal: abort.signal
  })
  // The migration takes well under a second here; a start that waits on the database is a bug.
  const running = await within(5000, starting)
  if (running === 'still waiting') {
    abort.abort()
    await starting.then((r) => r.stop(), () => {})
    t.fail(`not started within 5 s; its warnings: ${logs.entries.filter((e) => Number(e.level) >= 40).map((e) => String(e.msg)).join('; ')}`)
    return
  }
  t.teardown(() => running.stop())
  t.match(running.worker.id, /\S/, 'graphile-worker gave the pool an id')
  t.match(logs.find('durable worker started'), [{ worker_id: running.worker.id, lost_after_ms: 60_000 }])
  const db = new pg.Client({ connectionString: databaseUrl })
  await db.connect()
  t.teardown(() => db.end())
  const beats = async (): Promise<string[]> => (await db.query<{ id: string }>('select id from telegram_ingress.workers')).rows.map((r) => r.id)
  t.same(await beats(), [running.worker.id], 'its heartbeat row')
  await running.stop()
  t.same(await beats(), [], 'gone once stopped')
})
