// The worker process (src/worker.ts, `node dist/worker.js`) as compose starts it: its own start-up
// against a real PostgreSQL, migrations included, before the web process ever ran.
import t from 'tap'
import { startWorker } from '../src/worker.js'
import { baseEnv } from './helpers/app.js'
import { startTestBotApi } from './helpers/bot-api.js'
import { LogCapture } from './helpers/log-capture.js'
import { startPostgres } from './helpers/postgres.js'

t.test('a worker started on an empty database migrates it, starts, and stops on request', async (t) => {
  const pg = await startPostgres(t)
  if (pg === undefined) return
  const url = await pg.createDatabase()
  const api = await startTestBotApi()
  t.teardown(() => api.close())
  const logs = new LogCapture()
  // The migration holds its lock on one pooled connection while graphile-worker's takes another:
  // with a pool of one, start-up waited for the pool's timeout and failed.
  const started = Date.now()
  const running = await startWorker({ env: baseEnv(api, { DATABASE_URL: url, LOG_LEVEL: 'info' }), logStream: logs, retry: { attempts: 1 } })
  t.ok(Date.now() - started < 5000, `started in ${Date.now() - started} ms`)
  t.equal(logs.find('durable worker started').length, 1, 'says it started')
  await running.stop()
})
