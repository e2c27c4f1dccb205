// Stopping the ingress while Telegram has a delivery in flight. Telegram keeps its webhook
// connections alive, so an update answered during shutdown leaves an open keep-alive connection.
import t from 'tap'
import { features } from '../../src/bot/index.js'
import { pause, waitUntil } from '../sandbox/helpers.js'
import { sandboxFor } from './helpers.js'

t.test('stop() finishes the update being handled, then returns without waiting for keep-alive', async (t) => {
  let handling = false
  const slow = features.concat((bot) => {
    bot.command('slow', async () => {
      handling = true
      await pause(200)
    })
  })
  const sandbox = await sandboxFor(t, { features: slow, env: { SHUTDOWN_TIMEOUT_MS: '1500' } })
  sandbox.bot.injectCommand('slow')
  await waitUntil(() => handling, 2000, () => 'the handler to start')
  const started = Date.now()
  await sandbox.service.stop()
  const took = Date.now() - started
  t.ok(took < 1000, `stop() took ${took} ms (the handler needs 200)`)
  // The 200 left before stop() returned; the emulator reads it a moment later.
  await waitUntil(() => sandbox.bot.deliveryStats().successes === 1, 2000, () => 'the acknowledgement to reach the emulator')
  t.equal(sandbox.bot.deliveryStats().failures, 0, 'the update being handled was finished and acknowledged, not failed')
})

// Issue 13's scenario: budget 0, busy chats, then a stop while handlers run. Telegram sends a chat's
// next update only after a 2xx, and nothing it got a 2xx for comes again: an update acknowledged
// and not handled by the time the process is gone is lost.
t.test('stop() under load with budget 0 loses at most the updates whose handlers were running: one per chat', async (t) => {
  const CHATS = 20
  const PER_CHAT = 8
  const handled = new Set<number>()
  const slow = features.concat((bot) => {
    bot.on('message', async (ctx) => {
      await pause(60)
      handled.add(ctx.update.update_id)
    })
  })
  // The drain (30 ms) is shorter than a handler (60 ms): whatever runs at stop() is abandoned.
  const sandbox = await sandboxFor(t, { features: slow, env: { TELEGRAM_HANDLER_BUDGET_MS: '0', SHUTDOWN_TIMEOUT_MS: '30' } })
  for (let n = 0; n < PER_CHAT; n++) {
    for (let chat = 1; chat <= CHATS; chat++) {
      const user = { id: 500_000 + chat, is_bot: false, first_name: `User${chat}` }
      sandbox.bot.injectText(`message ${n}`, { from: user })
    }
  }
  await waitUntil(() => handled.size >= CHATS, 5000, () => `a first round of handlers (${handled.size} so far)`)
  await sandbox.service.stop()
  const handledAtStop = new Set(handled)
  const acknowledged = new Set(sandbox.bot.deliveries().filter((d) => d.status !== undefined && d.status >= 200 && d.status < 300).map((d) => d.updateId))
  const lost = [...acknowledged].filter((id) => !handledAtStop.has(id))
  t.comment(`${CHATS * PER_CHAT} updates, ${acknowledged.size} acknowledged, ${handledAtStop.size} handled by the stop, ${lost.length} acknowledged and lost`)
  t.ok(acknowledged.size < CHATS * PER_CHAT, 'not everything was acknowledged: Telegram still holds the rest')
  t.ok(lost.length <= CHATS, `at most one acknowledged, unfinished update per chat (${lost.length})`)
  const refused = sandbox.bot.deliveries().filter((d) => d.status === 503)
  t.ok(refused.every((d) => !handledAtStop.has(d.updateId)), 'what got 503 was not handled: Telegram sends it again')
})
