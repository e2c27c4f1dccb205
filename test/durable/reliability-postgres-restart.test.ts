// Durable mode's proof, 3 of 4: PostgreSQL stopped mid-load and started again 2 s later, with the
// worker in the web process (the default) and in worker processes of their own. While the
// database is gone the webhook cannot commit, so it answers 503 (never a 200 for an update it did
// not store) and Telegram keeps the update; the workers' jobs wait in the database meanwhile.
//
// It held once the worker batched its job completions (graphile-worker 0.17.3 does not await an
// unbatched completeJob, and a database error there ended the process) and retried its own
// queries through the outage (src/durable/worker.ts).
import t, { type Test } from 'tap'
import { pause, waitUntil } from '../helpers/wait.js'
import {
  describe, freePort, injectLoad, readHandlerLog, settle, startProxy, startWorld, statusesText, updateStates, verdictOf
} from './harness.js'

const OUTAGE_MS = 2000

async function postgresRestart (t: Test, separateWorkers: boolean): Promise<void> {
  const world = await startWorld(t)
  if (world === undefined) return
  const began = Date.now()
  const port = await freePort()
  // Between Telegram and the web process, to count its answers by status.
  const proxy = await startProxy(t, [`http://127.0.0.1:${port}`])
  const workerSettings = { WORKER_CONCURRENCY: '10', TEST_HANDLER_SLEEP_MS: '5' }
  const web = await world.spawn('web', 'web', world.env({
    PORT: String(port),
    TELEGRAM_WEBHOOK_URL: `${proxy.url}/telegram/webhook`,
    TELEGRAM_RUN_WORKER: String(!separateWorkers),
    ...workerSettings
  }))
  const workers = separateWorkers
    ? await Promise.all([1, 2].map(async (n) => await world.spawn(`worker ${n}`, 'worker', world.env(workerSettings))))
    : []

  const load = injectLoad(world.bot)
  await waitUntil(() => world.bot.deliveryStats().successes >= load.total / 4, 30_000, () => 'a quarter of the updates acknowledged')
  const before = new Map(proxy.statuses)
  const stoppedAt = Date.now()
  await world.pg.stop()
  const acked = world.bot.deliveryStats().successes
  await pause(OUTAGE_MS)
  await world.pg.start()
  const outageMs = Date.now() - stoppedAt
  const during = (status: number): number => (proxy.statuses.get(status) ?? 0) - (before.get(status) ?? 0)
  t.comment(`PostgreSQL down ${outageMs} ms, from ${acked}/${load.total} acknowledged; answers meanwhile: 200 x${during(200)}, 503 x${during(503)}, 502 (web gone) x${during(502)}`)
  t.ok(during(503) > 0, `the webhook answered 503 while the database was down (${during(503)} times)`)
  try {
    await settle(world, load, 45_000, [web, ...workers])
  } catch (err) {
    t.fail(`${(err as Error).message}; replies so far: ${describe(verdictOf(load))}`)
    for (const child of [web, ...workers].filter((c) => c.exited)) {
      t.comment(`${child.name} exited (${child.exitCode ?? '?'}):\n${child.output.filter((line) => !line.startsWith('{') && !/^\s*(\^|Error.captureStackTrace.*)?$/.test(line)).slice(0, 8).join('\n')}`)
    }
    return
  }

  const verdict = verdictOf(load)
  t.comment(`answers in all: ${statusesText(proxy.statuses)}; deliveries ${JSON.stringify(world.bot.deliveryStats())}`)
  t.comment(`${load.replies.length} replies: ${describe(verdict)}; scenario took ${Date.now() - began} ms`)
  t.same(verdict.lost, [], '0 lost: every update was replied to')
  t.same(verdict.doubled, [], '0 handled twice: no update_id replied twice')
  t.same(verdict.outOfOrder, [], 'each chat\'s replies in update_id order')
  t.equal(verdict.strangers, 0, 'no reply to an update nobody sent')
  t.same(await updateStates(world.db), { done: load.total }, 'every stored update done')
  t.same(readHandlerLog(world.handlerLog).overlaps, [], 'no two handlers of one chat ran at once')
}

t.test('PostgreSQL restarted mid-load, worker in the web process: 503s meanwhile, then 0 lost, 0 double', async (t) => {
  await postgresRestart(t, false)
})

t.test('PostgreSQL restarted mid-load, 2 worker processes: 503s meanwhile, then 0 lost, 0 double', async (t) => {
  await postgresRestart(t, true)
})
