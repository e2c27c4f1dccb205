// Durable mode's proof, 4 of 4: two web processes behind one address (a round-robin proxy, as a
// load balancer would be) and two worker processes. Either web process may store any update, a
// redelivery may reach the other one, and either worker may run any chat's next update: the
// database's update_id key and per-chat job queues keep it exactly once and in order.
import t from 'tap'
import {
  describe, freePort, injectLoad, readHandlerLog, settle, startProxy, startWorld, statusesText, updateStates, verdictOf
} from './harness.js'

t.test('2 web processes behind one port + 2 workers: 0 lost, 0 double, every chat in order, one handler per chat at a time', async (t) => {
  const world = await startWorld(t)
  if (world === undefined) return
  const began = Date.now()
  const ports = [await freePort(), await freePort()]
  const proxy = await startProxy(t, ports.map((port) => `http://127.0.0.1:${port}`))
  const webEnv = (port: number): Record<string, string> => world.env({
    PORT: String(port),
    TELEGRAM_WEBHOOK_URL: `${proxy.url}/telegram/webhook`,
    TELEGRAM_RUN_WORKER: 'false'
  })
  // One after the other: the second finds the webhook set by the first, as a rolling start would.
  for (const [i, port] of ports.entries()) await world.spawn(`web ${i + 1}`, 'web', webEnv(port))
  const workerEnv = world.env({ WORKER_CONCURRENCY: '10', TEST_HANDLER_SLEEP_MS: '5' })
  const workers = await Promise.all([world.spawn('worker 1', 'worker', workerEnv), world.spawn('worker 2', 'worker', workerEnv)])

  const ready = Date.now()
  const load = injectLoad(world.bot)
  await settle(world, load, 45_000, workers)
  t.comment(`processes ready in ${ready - began} ms; the load took ${Date.now() - ready} ms; deliveries ${JSON.stringify(world.bot.deliveryStats())}`)

  const verdict = verdictOf(load)
  const runs = readHandlerLog(world.handlerLog)
  const runsBy = (pid: number): number => [...runs.startsOf.values()].filter((starts) => starts.some((start) => start.pid === pid)).length
  const served = proxy.targets.map((target) => proxy.okBy.get(target) ?? 0)
  t.comment(`answers: ${statusesText(proxy.statuses)}; 2xx by web process: ${served.join(' / ')}; handlers by worker: ${workers.map((w) => runsBy(w.pid)).join(' / ')}`)
  t.comment(`${load.replies.length} replies: ${describe(verdict)}; scenario took ${Date.now() - began} ms`)
  t.same(verdict.lost, [], '0 lost: every update was replied to')
  t.same(verdict.doubled, [], '0 handled twice: no update_id replied twice')
  t.same(verdict.outOfOrder, [], 'every chat\'s replies in update_id order')
  t.equal(verdict.strangers, 0, 'no reply to an update nobody sent')
  t.same(runs.overlaps, [], 'no two handlers of one chat ran at once, across the two workers')
  t.ok(served.every((n) => n > 0), 'both web processes stored updates')
  t.ok(workers.every((w) => runsBy(w.pid) > 0), 'both workers ran handlers')
  t.same(await updateStates(world.db), { done: load.total }, 'every stored update done')
})
