/**
 * Bot API failures with Telegram's own codes and texts. The texts are the ones the
 * tdlib/telegram-bot-api server answers with (Client.cpp, ClientManager.cpp), because client
 * libraries and our tests match on them.
 */
export class BotApiError extends Error {
  constructor (
    readonly errorCode: number,
    readonly description: string,
    /** Seconds, for 429: sent as `parameters.retry_after` and as a Retry-After header. */
    readonly retryAfter?: number
  ) {
    super(description)
    this.name = 'BotApiError'
  }
}

export interface BotApiErrorBody {
  ok: false
  error_code: number
  description: string
  parameters?: { retry_after: number }
}

export function errorBody (error: BotApiError): BotApiErrorBody {
  const body: BotApiErrorBody = { ok: false, error_code: error.errorCode, description: error.description }
  if (error.retryAfter !== undefined) body.parameters = { retry_after: error.retryAfter }
  return body
}

export const badRequest = (text: string): BotApiError => new BotApiError(400, `Bad Request: ${text}`)

export const unauthorized = (): BotApiError => new BotApiError(401, 'Unauthorized')

/** An unknown path outside /bot<token>/, as api.telegram.org answers it. */
export const notFound = (): BotApiError => new BotApiError(404, 'Not Found')

export const methodNotFound = (): BotApiError => new BotApiError(404, 'Not Found: method not found')

export const tooManyRequests = (retryAfter: number): BotApiError =>
  new BotApiError(429, `Too Many Requests: retry after ${retryAfter}`, retryAfter)

/** The three 409 texts, verbatim (Client.cpp; TELEGRAM.md "getUpdates and its conflicts"). */
export const CONFLICT = {
  webhookActive:
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
  otherGetUpdates:
    'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running',
  setWebhook: 'Conflict: terminated by setWebhook request'
} as const

export const conflict = (text: string): BotApiError => new BotApiError(409, text)
