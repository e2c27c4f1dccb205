// Durable mode's proof, 2 of 4: one of two worker processes killed (-9) while its handlers run.
// Its heartbeat stops; the other worker finds it silent, unlocks its jobs and chats
// (forceUnlockWorkers) and runs them within WORKER_LOST_AFTER_MS. A job whose handler had replied
// but not yet been marked done runs again: at least once, so doubles are possible, but only among
// the jobs the dead worker held.
import t from 'tap'
import { waitUntil } from '../helpers/wait.js'
import {
  describe, freePort, injectLoad, jobsHeldBy, readHandlerLog, settle, startWorld, updateStates, verdictOf, WORKER_LOST_AFTER_MS,
  type Reply
} from './harness.js'

// The survivor beats and sweeps every WORKER_LOST_AFTER_MS / 6 (500 ms) and takes a worker silent
// for two thirds of it (2 s) for lost: its jobs start again some 1.5-2.5 s after the kill, plus a
// poll and a handler. The margin is for a loaded 2-core machine.
const TAKEOVER_TOLERANCE_MS = 1000

t.test('kill -9 of a worker mid-handler: the other takes its jobs within WORKER_LOST_AFTER_MS, 0 lost, order kept', async (t) => {
  const world = await startWorld(t)
  if (world === undefined) return
  const began = Date.now()
  const port = await freePort()
  await world.spawn('web', 'web', world.env({
    PORT: String(port),
    TELEGRAM_WEBHOOK_URL: `http://127.0.0.1:${port}/telegram/webhook`,
    TELEGRAM_RUN_WORKER: 'false'
  }))
  // 25 ms handlers, 10 at a time: under load each worker always holds some jobs mid-handler.
  const workerEnv = world.env({ WORKER_CONCURRENCY: '10', TEST_HANDLER_SLEEP_MS: '25' })
  const [doomed, survivor] = await Promise.all([world.spawn('worker 1', 'worker', workerEnv), world.spawn('worker 2', 'worker', workerEnv)])
  if (doomed === undefined || survivor === undefined || doomed.workerId === undefined) throw new Error('workers did not start')

  const load = injectLoad(world.bot)
  await waitUntil(() => load.repliedIds.size >= load.total / 4, 30_000, () => 'a quarter of the updates replied to')
  const heldBefore = await jobsHeldBy(world.db, doomed.workerId)
  const killedAt = await doomed.kill9()
  world.noteKilled(doomed)
  // Dead now, and not yet found out (that takes two thirds of WORKER_LOST_AFTER_MS): what it holds
  // is what it held when it died.
  const held = await jobsHeldBy(world.db, doomed.workerId)
  const repliedAtKill = load.repliedIds.size
  t.ok(held.length > 0, `worker 1 held ${held.length} jobs when killed (${heldBefore.length} just before), ${repliedAtKill}/${load.total} replied`)

  const heldSet = new Set(held)
  // A reply the emulator reads just after the kill may still be the dead worker's: the first reply
  // of the takeover is one to a held job, read after worker 2 started that job's handler.
  const takeoverReply = (): Reply | undefined => {
    const startedBySurvivor = readHandlerLog(world.handlerLog).startsOf
    return load.replies.find((reply) => heldSet.has(reply.updateId) &&
      (startedBySurvivor.get(reply.updateId) ?? []).some((start) => start.pid === survivor.pid && start.at <= reply.at))
  }
  await waitUntil(() => takeoverReply() !== undefined, 15_000, () => 'worker 2\'s reply to a job worker 1 held')
  const takeover = takeoverReply()
  const takeoverMs = (takeover?.at ?? Number.NaN) - killedAt
  t.comment(`first reply to a job of the killed worker, from worker 2: update ${takeover?.updateId}, ${takeoverMs} ms after the kill (WORKER_LOST_AFTER_MS ${WORKER_LOST_AFTER_MS})`)
  t.ok(takeoverMs <= WORKER_LOST_AFTER_MS + TAKEOVER_TOLERANCE_MS,
    `its jobs ran again within WORKER_LOST_AFTER_MS (+${TAKEOVER_TOLERANCE_MS} ms): ${takeoverMs} ms`)
  await settle(world, load, 45_000)

  const verdict = verdictOf(load)
  const runs = readHandlerLog(world.handlerLog)
  t.comment(`${load.replies.length} replies: ${describe(verdict)}; held at the kill: ${held.join(', ')}; scenario took ${Date.now() - began} ms`)
  t.same(verdict.lost, [], '0 lost: every update was replied to')
  t.same(verdict.outOfOrder, [], 'each chat\'s replies (first occurrences) in update_id order')
  t.equal(verdict.strangers, 0, 'no reply to an update nobody sent')
  t.ok(verdict.doubled.length <= held.length, `doubles (${verdict.doubled.length}) at most the jobs it held (${held.length})`)
  t.same(verdict.doubled.filter((id) => !heldSet.has(id)), [], 'only jobs the killed worker held were handled twice')
  const rerunElsewhere = held.filter((id) => load.replies.some((reply) => reply.updateId === id && reply.at > killedAt))
  t.same(rerunElsewhere.filter((id) => !(runs.startsOf.get(id) ?? []).some((start) => start.pid === survivor.pid)), [],
    `the held jobs replied after the kill (${rerunElsewhere.length}) ran on worker 2`)
  t.same(runs.overlaps, [], 'no two handlers of one chat ran at once (a killed worker\'s handlers end at its death)')
  t.same(await updateStates(world.db), { done: load.total }, 'every stored update done')
})
