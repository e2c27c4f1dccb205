// The retry schedule is Telegram's (WebhookActor::on_update_error), step by step.
import t from 'tap'
import { FIRST_RETRY_STATE, planRetry, type RetryState } from '../../sandbox/retry-schedule.js'

function waits (failures: number, random: () => number, retryAfter: (i: number) => number = () => 0): number[] {
  let state: RetryState = FIRST_RETRY_STATE
  const result: number[] = []
  for (let i = 0; i < failures; i++) {
    const plan = planRetry(state, retryAfter(i), random)
    result.push(plan.waitSeconds)
    state = plan.next
  }
  return result
}

// Each doubling is capped by a fresh random 60-120 s, so the 64 s step is itself capped when the
// draw is below 64, as in the server code.
t.test('immediately, then 2, 4 ... 32, 64 s, then a random 60-120 s', async (t) => {
  t.same(waits(10, () => 0.999), [0, 2, 4, 8, 16, 32, 64, 120, 120, 120])
  t.same(waits(10, () => 0), [0, 2, 4, 8, 16, 32, 60, 60, 60, 60])
})

t.test('Retry-After replaces one wait and does not advance the doubling', async (t) => {
  t.same(waits(5, () => 0, (i) => (i === 2 ? 30 : 0)), [0, 2, 30, 4, 8])
})

t.test('Retry-After is clamped to 0-3600 s', async (t) => {
  t.equal(planRetry(FIRST_RETRY_STATE, 99_999).waitSeconds, 3600)
  t.equal(planRetry({ failCount: 3, delaySeconds: 8 }, -5, () => 0).waitSeconds, 16, 'negative counts as none')
})
