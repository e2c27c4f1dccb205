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
