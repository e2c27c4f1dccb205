// Durable mode's proof, 1 of 4: the web process killed (-9) mid-load and started again on its
// port. Whatever it answered 200 was committed, whatever it did not answer Telegram sends again,
// and the dedupe absorbs what it committed without answering.
import t from 'tap'
import { waitUntil } from '../helpers/wait.js'
import { describe, freePort, injectLoad, readHandlerLog, settle, startWorld, updateStates, verdictOf } from './harness.js'

t.test('kill -9 of the web process mid-load, restarted on its port: 0 lost, 0 handled twice', async (t) => {
  const world = await startWorld(t)
  if (world === undefined) return
  const began = Date.now()
  const port = await freePort()
  const webEnv = world.env({
    PORT: String(port),
    TELEGRAM_WEBHOOK_URL: `http://127.0.0.1:${port}/telegram/webhook`,
    TELEGRAM_RUN_WORKER: 'false'
  })
  const web = await world.spawn('web', 'web', webEnv)
  const workerEnv = world.env({ WORKER_CONCURRENCY: '10', TEST_HANDLER_SLEEP_MS: '5' })
  await Promise.all([world.spawn('worker 1', 'worker', workerEnv), world.spawn('worker 2', 'worker', workerEnv)])

  const load = injectLoad(world.bot)
  await waitUntil(() => world.bot.deliveryStats().successes >= load.total / 4, 30_000, () => 'a quarter of the updates acknowledged')
  const atKill = world.bot.deliveryStats()
  const killedAt = await web.kill9()
  t.ok(atKill.successes < load.total && atKill.inFlight > 0,
    `the web process died mid-load: ${atKill.successes}/${load.total} acknowledged, ${atKill.inFlight} POSTs in flight`)

  const restarted = await world.spawn('web, restarted', 'web', webEnv)
  const downMs = Date.now() - killedAt
  t.match(await restarted.logLine('Telegram Bot initialized'), { webhook_set_now: false }, 'the restart found its webhook set, on the same URL')
  await settle(world, load, 45_000)

  const verdict = verdictOf(load)
  const stats = world.bot.deliveryStats()
  t.comment(`web down ${downMs} ms (kill to restarted and listening); deliveries ${JSON.stringify(stats)}`)
  t.comment(`${load.replies.length} replies: ${describe(verdict)}; scenario took ${Date.now() - began} ms`)
  t.same(verdict.lost, [], '0 lost: every update was replied to')
  t.same(verdict.doubled, [], '0 handled twice: no update_id replied twice')
  t.same(verdict.outOfOrder, [], 'each chat\'s replies in update_id order')
  t.equal(verdict.strangers, 0, 'no reply to an update nobody sent')
  t.ok(stats.failures > 0, 'Telegram saw the web process gone, and tried again')
  t.equal(world.bot.webhookInfo().pending_update_count, 0, 'nothing left at Telegram')
  t.same(await updateStates(world.db), { done: load.total }, 'every stored update done')
  t.same(readHandlerLog(world.handlerLog).overlaps, [], 'no two handlers of one chat ran at once')
})
