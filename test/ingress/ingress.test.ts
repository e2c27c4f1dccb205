import t from 'tap'
import type { Update } from 'telegraf/types'
import { HandlerTimeoutError, Ingress } from '../../src/ingress/ingress.js'
import { ChatQueue, chatKeyOf } from '../../src/ingress/chat-queue.js'
import { MemoryDedupe } from '../../src/ingress/dedupe.js'
import { typedTextUpdate as update } from '../helpers/app.js'
import { quiet } from '../helpers/wait.js'

function deferred (): { promise: Promise<void>, resolve: () => void } {
  let resolve = (): void => {}
  const promise = new Promise<void>((_resolve) => { resolve = _resolve })
  return { promise, resolve }
}

t.test('a handler within the budget is awaited: the outcome is "handled"', async (t) => {
  const done: number[] = []
  const ingress = new Ingress({ log: quiet, budgetMs: 1000, handle: async (u) => { done.push(u.update_id) } })
  t.equal(await ingress.accept(update('a', 1, 1)), 'handled')
  t.same(done, [1])
})

t.test('a slow handler is acked when the budget runs out and finishes in the background', async (t) => {
  const gate = deferred()
  const done: number[] = []
  const ingress = new Ingress({ log: quiet, budgetMs: 20, handle: async (u) => { await gate.promise; done.push(u.update_id) } })
  t.equal(await ingress.accept(update('a', 1, 1)), 'acked-early')
  t.same(done, [], 'not finished when acked')
  t.equal(ingress.inFlight, 1)
  gate.resolve()
  t.equal(await ingress.drain(1000), true)
  t.same(done, [1])
  t.equal(ingress.stats.ackedEarly, 1)
})

t.test('budget 0 acks at once', async (t) => {
  const gate = deferred()
  const ingress = new Ingress({ log: quiet, budgetMs: 0, handle: async () => { await gate.promise } })
  t.equal(await ingress.accept(update('a', 1, 1)), 'acked-early')
  gate.resolve()
  t.equal(await ingress.drain(1000), true)
})

t.test('updates of one chat run one after another; only the running one is acked early; other chats do not wait', async (t) => {
  const gates = new Map<number, ReturnType<typeof deferred>>()
  const events: string[] = []
  const ingress = new Ingress({
    log: quiet,
    budgetMs: 0,
    handle: async (u) => {
      events.push(`start ${u.update_id}`)
      const gate = deferred()
      gates.set(u.update_id, gate)
      await gate.promise
      events.push(`end ${u.update_id}`)
    }
  })
  t.equal(await ingress.accept(update('1', 10, 1)), 'acked-early')
  let second: string | undefined
  ingress.accept(update('2', 10, 2)).then((o) => { second = o }, () => {})
  t.equal(await ingress.accept(update('3', 20, 3)), 'acked-early')
  await new Promise((resolve) => setImmediate(resolve))
  t.same(events, ['start 1', 'start 3'], 'chat 10\'s second update waits; chat 20 runs')
  t.equal(second, undefined, 'and it is not answered: Telegram holds the chat\'s later updates meanwhile')
  t.equal(ingress.stats.waitingForChat, 1)
  gates.get(1)?.resolve()
  // Acked when its turn comes, started in the turn after the ack (budget 0: the 2xx goes out first).
  for (let i = 0; i < 2; i++) await new Promise((resolve) => setImmediate(resolve))
  t.same(events, ['start 1', 'start 3', 'end 1', 'start 2'])
  t.equal(second, 'acked-early', 'answered once it is the chat\'s running update')
  gates.get(2)?.resolve()
  gates.get(3)?.resolve()
  await ingress.drain(1000)
  t.same(events.slice(4).sort(), ['end 2', 'end 3'])
})

t.test('budget 0: the handler starts only after accept() answered, in order, all of one turn together', async (t) => {
  const events: string[] = []
  const ingress = new Ingress({ log: quiet, budgetMs: 0, handle: async (u) => { events.push(`start ${u.update_id}`) } })
  const first = ingress.accept(update('a', 1, 1))
  // Queued after the first update's start was scheduled: it runs after all three started only if
  // the turn's updates start together, not each in its own turn.
  setImmediate(() => { events.push('next turn') })
  const outcomes = [first, ingress.accept(update('b', 2, 2)), ingress.accept(update('c', 3, 3))]
  events.push('answered')
  t.same(await Promise.all(outcomes), ['acked-early', 'acked-early', 'acked-early'])
  t.same(events, ['answered'], 'no handler ran before the answers (the 2xx goes out first)')
  t.equal(await ingress.drain(1000), true)
  await new Promise((resolve) => setImmediate(resolve))
  t.same(events, ['answered', 'start 1', 'start 2', 'start 3', 'next turn'])
})

t.test('a handler that never finishes is given up after the handler timeout: logged, and its chat goes on', async (t) => {
  const errors: Array<{ update_id: number, err: unknown }> = []
  const log = { ...quiet, error: (obj: { update_id: number, err: unknown }) => { errors.push(obj) } }
  const done: number[] = []
  const ingress = new Ingress({
    log,
    budgetMs: 0,
    handlerTimeoutMs: 40,
    handle: async (u) => {
      if (u.update_id === 1) await new Promise(() => {}) // hangs forever
      done.push(u.update_id)
    }
  })
  await ingress.accept(update('a', 1, 1))
  const second = ingress.accept(update('b', 1, 2))
  await new Promise((resolve) => setTimeout(resolve, 15))
  t.same(done, [], 'the chat waits for its hung update while the timeout runs')
  t.equal(await second, 'acked-early', 'answered when the hung one was given up')
  t.equal(await ingress.drain(1000), true, 'drained once the hung handler was given up')
  t.same(done, [2], 'the next update of the chat ran')
  t.equal(errors.length, 1)
  t.equal(errors[0]?.update_id, 1)
  t.type(errors[0]?.err, HandlerTimeoutError)
  t.match(String((errors[0]?.err as Error).message), /still running after 40 ms/)
  t.equal(ingress.stats.failed, 1)
})

t.test('the handler budget answers "handled" when the handler wins the race, "acked-early" when the budget does', async (t) => {
  const gates = [deferred(), deferred()]
  const ingress = new Ingress({ log: quiet, budgetMs: 50, handle: async (u) => { await gates[u.update_id - 1]?.promise } })
  const started = performance.now()
  const first = ingress.accept(update('a', 1, 1))
  const second = ingress.accept(update('b', 2, 2))
  gates[0]?.resolve()
  t.equal(await first, 'handled', 'finished within the 50 ms budget')
  t.equal(await second, 'acked-early')
  // A timer never fires early, however slow the machine: only a lower bound is safe here.
  t.ok(performance.now() - started >= 49, 'answered only when the budget ran out')
  t.equal(ingress.stats.ackedEarly, 1)
  gates[1]?.resolve()
  t.equal(await ingress.drain(1000), true)
})

t.test('a full backlog: the next update is taken (and acked) only when one finished; close() answers the waiting ones "closed", unclaimed', async (t) => {
  const gates = new Map<number, ReturnType<typeof deferred>>()
  const started: number[] = []
  const dedupe = new MemoryDedupe()
  const ingress = new Ingress({
    log: quiet,
    budgetMs: 0,
    maxBacklog: 2,
    dedupe,
    handle: async (u) => {
      started.push(u.update_id)
      const gate = deferred()
      gates.set(u.update_id, gate)
      await gate.promise
    }
  })
  t.equal(await ingress.accept(update('a', 1, 1)), 'acked-early')
  t.equal(await ingress.accept(update('b', 2, 2)), 'acked-early')
  let third: string | undefined
  let fourth: string | undefined
  let resend: string | undefined
  Promise.resolve(ingress.accept(update('c', 3, 3))).then((o) => { third = o })
  Promise.resolve(ingress.accept(update('c', 3, 3))).then((o) => { resend = o }) // Telegram's resend of it
  Promise.resolve(ingress.accept(update('d', 4, 4))).then((o) => { fourth = `${resend ?? '?'}|${o}` })
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(third, undefined, 'not answered while two updates are unfinished')
  t.same(ingress.stats, { accepted: 2, duplicates: 0, failed: 0, ackedEarly: 2, inFlight: 2, waitingForRoom: 3, waitingForChat: 0, queuedChats: 2 })
  const turns = async (): Promise<void> => {
    for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve))
  }
  gates.get(1)?.resolve()
  await turns()
  t.equal(third, 'acked-early', 'taken once update 1 finished')
  t.equal(fourth, undefined, 'the rest still wait: the room went to the oldest')
  gates.get(2)?.resolve()
  await turns()
  t.equal(fourth, 'duplicate|acked-early', 'the resend turned out a duplicate and took no room, so update 4 went on at once')
  t.equal(ingress.stats.waitingForRoom, 0)
  let fifth: string | undefined
  Promise.resolve(ingress.accept(update('e', 5, 5))).then((o) => { fifth = o })
  ingress.close()
  await turns()
  t.equal(fifth, 'closed', 'waiting at close: 503, so Telegram resends it')
  t.equal(dedupe.claim(5), true, 'and it was never claimed')
  for (const gate of gates.values()) gate.resolve()
  t.equal(await ingress.drain(1000), true)
  t.same(started, [1, 2, 3, 4])
  t.throws(() => new Ingress({ log: quiet, budgetMs: 0, maxBacklog: 0, handle: async () => {} }), RangeError)
})

t.test('with a budget, an update queued behind its chat is not acked early: its budget starts when it runs', async (t) => {
  const gates = [deferred(), deferred()]
  const ingress = new Ingress({ log: quiet, budgetMs: 30, handle: async (u) => { await gates[u.update_id - 1]?.promise } })
  t.equal(await ingress.accept(update('a', 1, 1)), 'acked-early', 'the running one, when its budget ran out')
  let second: string | undefined
  ingress.accept(update('b', 1, 2)).then((o) => { second = o }, () => {})
  await new Promise((resolve) => setTimeout(resolve, 80))
  t.equal(second, undefined, 'well past its budget, still unanswered: it has not started')
  gates[0]?.resolve()
  gates[1]?.resolve()
  await ingress.drain(1000)
  t.equal(second, 'handled', 'it ran, and finished within its own budget')
})

t.test('a resend of an update waiting for its chat is answered with it, and never handled twice', async (t) => {
  const gate = deferred()
  let handled = 0
  const ingress = new Ingress({ log: quiet, budgetMs: 0, handle: async (u) => { handled++; if (u.update_id === 1) await gate.promise } })
  await ingress.accept(update('a', 1, 1))
  const outcomes: string[] = []
  ingress.accept(update('b', 1, 2)).then((o) => { outcomes.push(`first ${o}`) }, () => {})
  // Telegram gave up on the first delivery after 60 s and sends it again.
  ingress.accept(update('b', 1, 2)).then((o) => { outcomes.push(`resend ${o}`) }, () => {})
  await new Promise((resolve) => setImmediate(resolve))
  t.same(outcomes, [], 'neither is answered while the update waits')
  gate.resolve()
  await ingress.drain(1000)
  t.same(outcomes, ['first acked-early', 'resend duplicate'])
  t.equal(handled, 2)
})

t.test('close(): updates waiting for their chat are answered "closed", released and never run; the running ones drain', async (t) => {
  const gate = deferred()
  const started: number[] = []
  const dedupe = new MemoryDedupe()
  const ingress = new Ingress({ log: quiet, budgetMs: 0, dedupe, handle: async (u) => { started.push(u.update_id); await gate.promise } })
  await ingress.accept(update('a', 1, 1))
  const waiting = [ingress.accept(update('b', 1, 2)), ingress.accept(update('c', 1, 3))]
  const resend = ingress.accept(update('c', 1, 3))
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(ingress.inFlight, 3)
  ingress.close()
  t.same(await Promise.all([...waiting, resend]), ['closed', 'closed', 'closed'], '503: Telegram sends them again, to the next instance')
  t.equal(ingress.inFlight, 1, 'only the running update is left to drain')
  t.equal(dedupe.claim(2), true, 'released: new to whoever gets the resend')
  t.equal(dedupe.claim(3), true)
  gate.resolve()
  t.equal(await ingress.drain(1000), true)
  t.same(started, [1], 'the cancelled ones never ran')
  t.equal(ingress.stats.queuedChats, 0)
})

t.test('a failing handler does not stop its chat\'s next update, and is counted', async (t) => {
  const done: number[] = []
  const errors: unknown[] = []
  const log = { ...quiet, error: (obj: unknown) => { errors.push(obj) } }
  const ingress = new Ingress({
    log,
    budgetMs: 1000,
    handle: async (u) => {
      if (u.update_id === 1) throw new Error('boom')
      done.push(u.update_id)
    }
  })
  t.equal(await ingress.accept(update('a', 1, 1)), 'handled')
  t.equal(await ingress.accept(update('b', 1, 2)), 'handled')
  t.same(done, [2])
  t.match(errors, [{ update_id: 1, type: 'message', err: { message: 'boom' } }])
  t.equal(ingress.stats.failed, 1)
})

t.test('redelivered ids are "duplicate" and never handled twice', async (t) => {
  let handled = 0
  const ingress = new Ingress({ log: quiet, budgetMs: 1000, handle: async () => { handled++ } })
  t.equal(await ingress.accept(update('a', 1, 7)), 'handled')
  t.equal(await ingress.accept(update('a', 1, 7)), 'duplicate')
  t.equal(handled, 1)
})

t.test('after close(), updates are refused ("closed") and not claimed, so a resend after restart is handled', async (t) => {
  const dedupe = new MemoryDedupe(10)
  const ingress = new Ingress({ log: quiet, budgetMs: 1000, dedupe, handle: async () => {} })
  ingress.close()
  t.equal(await ingress.accept(update('a', 1, 9)), 'closed')
  t.equal(dedupe.claim(9), true, 'id 9 was never claimed')
})

t.test('drain waits for background work and reports a timeout', async (t) => {
  const gate = deferred()
  const ingress = new Ingress({ log: quiet, budgetMs: 0, handle: async () => { await gate.promise } })
  await ingress.accept(update('a', 1, 1))
  t.equal(await ingress.drain(30), false, 'timed out while the handler runs')
  gate.resolve()
  t.equal(await ingress.drain(1000), true)
  t.equal(ingress.inFlight, 0)
})

t.test('chat keys mirror Telegram\'s queues', async (t) => {
  const key = (u: Record<string, unknown>) => chatKeyOf({ update_id: 1, ...u } as unknown as Update)
  t.equal(key({ message: { chat: { id: -100 }, from: { id: 5 } } }), -100, 'message: the chat')
  t.equal(key({ edited_message: { chat: { id: 7 } } }), 7)
  t.equal(key({ callback_query: { from: { id: 5 }, message: { chat: { id: -100 } } } }), 5, 'callback query: the user')
  t.equal(key({ inline_query: { from: { id: 6 } } }), 6)
  t.equal(key({ my_chat_member: { chat: { id: -3 }, from: { id: 5 } } }), -3)
  t.equal(key({ poll_answer: { user: { id: 8 } } }), 8)
  t.equal(key({ poll: { id: 'p' } }), undefined, 'a poll has no queue')
})

t.test('ChatQueue: a key\'s next job starts when the running one calls done (once), other keys at once', async (t) => {
  const queue = new ChatQueue()
  const events: string[] = []
  const dones = new Map<string, () => void>()
  const job = (name: string) => (done: () => void): void => {
    events.push(`start ${name}`)
    dones.set(name, done)
  }
  queue.run(1, job('1a'))
  queue.run(1, job('1b'))
  queue.run(1, job('1c'))
  queue.run(2, job('2a'))
  queue.run(undefined, job('no key'))
  t.same(events, ['start 1a', 'start 2a', 'start no key'])
  t.equal(queue.size, 2)
  dones.get('1a')?.()
  dones.get('1a')?.() // a second call must not start 1c
  t.same(events.slice(3), ['start 1b'])
  dones.get('1b')?.()
  t.same(events.slice(4), ['start 1c'])
  dones.get('1c')?.()
  dones.get('2a')?.()
  t.equal(queue.size, 0, 'idle keys are forgotten')
  queue.run(1, job('1d'))
  t.same(events.slice(5), ['start 1d'], 'a forgotten key starts at once again')
})
