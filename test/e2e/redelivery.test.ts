// Telegram delivers at least once: a failed delivery comes again (after a 5xx, or when the
// service was down), and a delivery whose ack was lost comes again too and must not be handled
// twice.
import t from 'tap'
import { startService } from '../../src/server.js'
import { SANDBOX_USER } from '../../sandbox/user-updates.js'
import { pause, waitUntil } from '../sandbox/helpers.js'
import { flakyProxyFor, sandboxFor } from './helpers.js'

t.test('a 5xx before the ingress saw the update: redelivered, handled once', async (t) => {
  const proxy = await flakyProxyFor(t, (index) => (index === 0 ? 'fail-before' : 'forward'))
  const sandbox = await sandboxFor(t, { webhookUrl: () => proxy.url })
  proxy.target = `${sandbox.service.url}/telegram/webhook`
  sandbox.bot.injectCommand('start')
  const [reply] = await sandbox.bot.waitForSent({ chatId: SANDBOX_USER.id })
  t.match(reply?.message, { text: /^Welcome/ })
  t.match(sandbox.bot.deliveries(), [{ updateId: 1, attempt: 1, status: 500 }, { updateId: 1, attempt: 2 }])
  t.match(sandbox.bot.webhookInfo(), { last_error_message: 'Wrong response from the webhook: 500 Internal Server Error' })
  await waitUntil(() => sandbox.bot.deliveryStats().successes === 1, 2000, () => 'the redelivery to be acked')
})

t.test('a lost ack: the update comes again, the ingress acks the duplicate without handling it twice', async (t) => {
  const proxy = await flakyProxyFor(t, (index) => (index === 0 ? 'fail-after' : 'forward'))
  const sandbox = await sandboxFor(t, { webhookUrl: () => proxy.url })
  proxy.target = `${sandbox.service.url}/telegram/webhook`
  sandbox.bot.injectCommand('start')
  await waitUntil(() => sandbox.bot.deliveryStats().successes === 1, 3000, () => 'the redelivery to be acked')
  await pause(50)
  t.same(proxy.moves, ['fail-after', 'forward'])
  t.match(sandbox.bot.deliveryStats(), { attempts: 2, failures: 1, duplicates: 1 })
  t.equal(sandbox.bot.sent(SANDBOX_USER.id).length, 1, 'one welcome, not two')
  t.equal(sandbox.bot.webhookInfo().pending_update_count, 0)
})

t.test('updates sent while the service is down arrive after it comes back', async (t) => {
  const sandbox = await sandboxFor(t)
  await sandbox.service.stop()
  sandbox.bot.injectCommand('start')
  await waitUntil(() => sandbox.bot.deliveryStats().failures >= 2, 2000, () => 'failed deliveries')
  t.match(sandbox.bot.webhookInfo(), { last_error_message: 'Connection refused', pending_update_count: 1 })

  const again = await startService({ env: sandbox.env, logStream: sandbox.logs })
  t.teardown(() => again.stop())
  const [reply] = await sandbox.bot.waitForSent({ chatId: SANDBOX_USER.id, timeoutMs: 5000 })
  t.match(reply?.message, { text: /^Welcome/ }, 'Telegram\'s retry found the service again')
  t.same(sandbox.bot.calls('setWebhook').length, 1, 'the restart did not set the unchanged webhook again')
  await waitUntil(() => sandbox.bot.webhookInfo().pending_update_count === 0, 2000, () => 'the redelivery to be acked')
})
