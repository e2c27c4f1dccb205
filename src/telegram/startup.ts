// What runs before the service listens: check the token (getMe), then make Telegram's side match
// the configuration: the webhook set (webhook mode), or nothing set that polling would steal from.
import { setTimeout as sleep } from 'node:timers/promises'
import type { Log } from '../logger.js'
import type { Telegram } from 'telegraf'
import type { UserFromGetMe, WebhookInfo } from 'telegraf/types'
import { describeError, isBadToken, isRetryable, retryAfterSeconds } from './errors.js'
import { secretLooksStale, webhookDrift, type WebhookTarget } from './webhook-state.js'

/** A start-up failure whose message is the whole story for the operator (no stack needed). */
export class StartupError extends Error {
  override name = 'StartupError'
}

export const BAD_TOKEN_MESSAGE = 'Telegram rejected the bot token (TELEGRAM_BOT_TOKEN): it is wrong or was revoked. Copy the current token from @BotFather.'

export interface RetryOptions {
  attempts?: number
  baseDelayMs?: number
  maxDelayMs?: number
  signal?: AbortSignal
}

/**
 * What a failed call to Telegram means for a loop that retries it: a StartupError, thrown, when
 * retrying cannot help (a bad token, any other 4xx); otherwise how long to wait before try number
 * `attempt + 1`: Telegram's retry_after, or a backoff doubling from baseDelayMs up to maxDelayMs.
 */
export function retryDelayMs (what: string, err: unknown, attempt: number, baseDelayMs: number, maxDelayMs = 30_000): number {
  if (isBadToken(err)) throw new StartupError(BAD_TOKEN_MESSAGE)
  if (!isRetryable(err)) throw new StartupError(`${what} failed: ${describeError(err)}`)
  const retryAfter = retryAfterSeconds(err)
  return retryAfter !== undefined ? retryAfter * 1000 : Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1))
}

/** Calls `call` until it succeeds, at most `attempts` times, waiting as retryDelayMs says. */
async function withRetry<T> (what: string, call: () => Promise<T>, log: Log, options: RetryOptions = {}): Promise<T> {
  const { attempts = 8, baseDelayMs = 500, maxDelayMs = 30_000, signal } = options
  for (let attempt = 1; ; attempt++) {
    try {
      return await call()
    } catch (err) {
      const delayMs = retryDelayMs(what, err, attempt, baseDelayMs, maxDelayMs)
      if (attempt >= attempts) throw new StartupError(`${what} failed ${attempts} times, giving up: ${describeError(err)}`)
      log.warn({ attempt, delay_ms: delayMs, error: describeError(err) }, `${what} failed, retrying`)
      await sleep(delayMs, undefined, { signal })
    }
  }
}

export async function checkToken (telegram: Telegram, log: Log, options?: RetryOptions): Promise<UserFromGetMe> {
  return await withRetry('getMe', () => telegram.getMe(), log, options)
}

export interface WebhookSetup extends WebhookTarget {
  secret: string
}

/**
 * Sets the webhook only when Telegram's differs from ours, so a restart does not call setWebhook
 * (limited to 1/s per bot) for nothing. getWebhookInfo never shows the secret, so a stale secret is
 * recognised by its effect: Telegram's last delivery got our 401.
 */
export async function ensureWebhook (telegram: Telegram, setup: WebhookSetup, log: Log, options?: RetryOptions): Promise<{ changed: string[], info: WebhookInfo }> {
  const info = await withRetry('getWebhookInfo', () => telegram.getWebhookInfo(), log, options)
  const changed = webhookDrift(info, setup)
  if (secretLooksStale(info, Date.now() / 1000)) changed.push('Telegram\'s last delivery got 401 (stale secret_token)')
  if (changed.length === 0) return { changed, info }
  await withRetry('setWebhook', () => telegram.setWebhook(setup.url, {
    secret_token: setup.secret,
    max_connections: setup.maxConnections,
    ...(setup.allowedUpdates !== undefined && { allowed_updates: setup.allowedUpdates as never })
  }), log, options)
  log.info({ changed }, 'webhook set at Telegram')
  return { changed, info }
}

/**
 * Polling with a token whose webhook is set would take production traffic away (most polling
 * libraries, Telegraf's launch() included, call deleteWebhook first). Refuse unless told to.
 */
export async function guardPolling (telegram: Telegram, deleteWebhook: boolean, log: Log, options?: RetryOptions): Promise<void> {
  const info = await withRetry('getWebhookInfo', () => telegram.getWebhookInfo(), log, options)
  if (info.url === '') return
  if (!deleteWebhook) {
    throw new StartupError(
      `Polling mode refused: a webhook is active for this bot at ${info.url}. Polling would delete it and take ` +
      'its updates away from that server. Use a separate bot token for development, or set ' +
      'TELEGRAM_DELETE_WEBHOOK_FOR_POLLING=true to delete the webhook (pending updates are kept) and poll anyway.'
    )
  }
  log.warn({ webhook_url: info.url }, 'deleting the active webhook to poll (TELEGRAM_DELETE_WEBHOOK_FOR_POLLING=true)')
  await withRetry('deleteWebhook', () => telegram.deleteWebhook({ drop_pending_updates: false }), log, options)
}
