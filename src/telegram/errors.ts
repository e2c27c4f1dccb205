// How a failed Bot API call is told apart: Telegram's own answer (TelegramError, with error_code)
// or no answer at all (network). Messages built here may reach an HTTP body, so they never carry
// the token, even if a library put it in an error message.
import { TelegramError } from 'telegraf'

export function telegramCode (err: unknown): number | undefined {
  return err instanceof TelegramError ? err.code : undefined
}

/** 401 (revoked or wrong token) and 404 (malformed token) both mean: this token is not a bot's. */
export function isBadToken (err: unknown): boolean {
  const code = telegramCode(err)
  return code === 401 || code === 404
}

/** No answer, a 5xx, or a 429: worth trying again later. */
export function isRetryable (err: unknown): boolean {
  const code = telegramCode(err)
  return code === undefined || code === 429 || code >= 500
}

/** Telegram's retry_after (429 answers), in seconds. */
export function retryAfterSeconds (err: unknown): number | undefined {
  if (!(err instanceof TelegramError)) return undefined
  const seconds = (err.response as { parameters?: { retry_after?: unknown } }).parameters?.retry_after
  return typeof seconds === 'number' ? seconds : undefined
}

const TOKEN_IN_TEXT = /\d{5,}:[A-Za-z0-9_-]{20,}/g

/** Replaces anything shaped like a bot token, for text that leaves the process (HTTP bodies, stderr). */
export function withoutTokens (text: string): string {
  return text.replace(TOKEN_IN_TEXT, '<token>')
}

/** A one-line, token-free description of a failed Bot API call. */
export function describeError (err: unknown): string {
  if (err instanceof TelegramError) return withoutTokens(`Telegram answered ${err.code}: ${err.description}`)
  const message = err instanceof Error ? err.message : String(err)
  return withoutTokens(`Telegram could not be reached: ${message}`)
}
