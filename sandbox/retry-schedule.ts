/**
 * When a failed webhook delivery is tried again, as tdlib/telegram-bot-api's WebhookActor decides
 * it (on_update_error): the first retry is immediate, then the delay doubles from 2 s (2, 4 ... 32,
 * 64), each doubling capped by a fresh random 60-120 s, so it settles at a random 60-120 s.
 * A Retry-After answer replaces the delay for that one retry, clamped to 0-3600 s, without
 * advancing the doubling.
 */
export interface RetryState {
  /** Failures so far. */
  failCount: number
  /** The doubling delay, in seconds; starts at 1 so the first doubling gives 2. */
  delaySeconds: number
}

export const FIRST_RETRY_STATE: RetryState = { failCount: 0, delaySeconds: 1 }

const MAX_RETRY_AFTER_SECONDS = 3600
const MAX_RESEND_TIMEOUT_SECONDS = 60

export interface RetryPlan {
  next: RetryState
  /** Seconds to wait before the next POST. */
  waitSeconds: number
}

export function planRetry (state: RetryState, retryAfterSeconds: number, random: () => number = Math.random): RetryPlan {
  const retryAfter = Math.min(MAX_RETRY_AFTER_SECONDS, Math.max(0, retryAfterSeconds))
  let delaySeconds = state.delaySeconds
  let waitSeconds = retryAfter
  if (retryAfter === 0 && state.failCount > 0) {
    const ceiling = MAX_RESEND_TIMEOUT_SECONDS + Math.floor(random() * (MAX_RESEND_TIMEOUT_SECONDS + 1))
    delaySeconds = Math.min(ceiling, delaySeconds * 2)
    waitSeconds = delaySeconds
  }
  return { next: { failCount: state.failCount + 1, delaySeconds }, waitSeconds }
}
