import t from 'tap'
import type { WebhookInfo } from 'telegraf/types'
import { judgeWebhook, WebhookState, webhookDrift } from '../../src/telegram/webhook-state.js'
import { within } from '../helpers/wait.js'

const target = { url: 'https://bot.example.com/telegram/webhook', maxConnections: 100, allowedUpdates: undefined }
const info = (fields: Partial<WebhookInfo> = {}): WebhookInfo => ({ url: target.url, has_custom_certificate: false, pending_update_count: 0, max_connections: 100, ...fields })

t.test('the cached answer is reused within the TTL and refreshed after it', async (t) => {
  let clock = 0
  let calls = 0
  const state = new WebhookState({ getWebhookInfo: async () => { calls++; return info() } }, target, { now: () => clock })
  await state.report()
  clock = 4999
  await state.report()
  t.equal(calls, 1)
  clock = 5000
  const report = await state.report()
  t.equal(calls, 2)
  t.equal(report.checkedAt, new Date(5000).toISOString())
})

t.test('a failure is cached too, so an unreachable Telegram is not hammered by probes', async (t) => {
  let clock = 0
  let calls = 0
  const state = new WebhookState({ getWebhookInfo: async () => { calls++; throw new Error('connect ECONNREFUSED') } }, target, { now: () => clock })
  const first = await state.report()
  t.match(first, { ok: false, verdict: 'unreachable', reason: /ECONNREFUSED/ })
  clock = 1000
  await state.report()
  t.equal(calls, 1)
})

t.test('a call that outlives the timeout is aborted and reported as unreachable', async (t) => {
  let seen: AbortSignal | undefined
  const hangs = async (signal: AbortSignal): Promise<never> => await new Promise((_resolve, reject) => {
    seen = signal
    signal.addEventListener('abort', () => { reject(new Error('aborted')) })
  })
  const state = new WebhookState({ getWebhookInfo: hangs }, target, { timeoutMs: 50 })
  const report = await within(5000, state.report())
  t.match(report, { ok: false, verdict: 'unreachable', reason: 'Telegram did not answer getWebhookInfo within 50 ms' })
  t.equal(seen?.aborted, true, 'the source was told to give up')
})

t.test('drift lists each setting that differs, with Telegram\'s default of 40 connections', async (t) => {
  t.same(webhookDrift(info(), target), [])
  t.same(webhookDrift(info({ max_connections: undefined }), target), ['max_connections is 40, not 100'])
  t.same(webhookDrift(info({ url: '' }), target), ['no webhook is set'])
  t.same(webhookDrift(info({ allowed_updates: ['message'] }), { ...target, allowedUpdates: ['message', 'callback_query'] }), ['allowed_updates is [message], not [message,callback_query]'])
  t.same(webhookDrift(info({ allowed_updates: ['callback_query', 'message'] }), { ...target, allowedUpdates: ['message', 'callback_query'] }), [], 'order does not matter')
})

t.test('an old delivery error is not reported as a warning', async (t) => {
  const judged = judgeWebhook(info({ last_error_date: 1000, last_error_message: 'Read timeout expired' }), target, 1000 + 7200)
  t.same(judged.warnings, [])
  const recent = judgeWebhook(info({ last_error_date: 1000, last_error_message: 'Read timeout expired' }), target, 1000 + 60)
  t.match(recent.warnings, [/Read timeout expired/])
})
