// What Telegram says about our webhook, fetched at most once per TTL however many probes ask, and
// judged against what we configured. Used by the health route and by start-up.
import type { WebhookInfo } from 'telegraf/types'
import { describeError } from './errors.js'

export interface WebhookTarget {
  url: string
  maxConnections: number
  allowedUpdates: string[] | undefined
}

export type Verdict = 'ok' | 'missing' | 'mismatch' | 'unreachable'

export interface WebhookReport {
  ok: boolean
  verdict: Verdict
  reason: string
  expectedUrl: string
  info?: WebhookInfo
  /** Things worth a look that do not make the webhook unhealthy. */
  warnings: string[]
  checkedAt: string
}

type Fetched = { info: WebhookInfo, at: number } | { error: string, at: number }

// Telegram's default when setWebhook is called without max_connections.
const TELEGRAM_DEFAULT_MAX_CONNECTIONS = 40

/** The settings at Telegram that differ from the target, each as a sentence; empty when none. */
export function webhookDrift (info: WebhookInfo, target: WebhookTarget): string[] {
  if (info.url === '') return ['no webhook is set']
  const drift: string[] = []
  if (info.url !== target.url) drift.push(`url is ${info.url}, not ${target.url}`)
  const maxConnections = info.max_connections ?? TELEGRAM_DEFAULT_MAX_CONNECTIONS
  if (maxConnections !== target.maxConnections) drift.push(`max_connections is ${maxConnections}, not ${target.maxConnections}`)
  if (target.allowedUpdates !== undefined && !sameSet(info.allowed_updates ?? [], target.allowedUpdates)) {
    drift.push(`allowed_updates is [${(info.allowed_updates ?? []).join(',')}], not [${target.allowedUpdates.join(',')}]`)
  }
  return drift
}

/**
 * getWebhookInfo never shows the secret_token, so a secret that changed since the last setWebhook
 * is only visible in its effect: Telegram's deliveries get our 401.
 */
export function secretLooksStale (info: WebhookInfo, nowSeconds: number): boolean {
  return recentError(info, nowSeconds) && info.last_error_message?.includes('401') === true
}

/** Telegram keeps the last delivery error until something replaces it: only the last hour's counts. */
function recentError (info: WebhookInfo, nowSeconds: number): boolean {
  return info.last_error_date !== undefined && nowSeconds - info.last_error_date < 3600
}

export function judgeWebhook (info: WebhookInfo, target: WebhookTarget, nowSeconds: number): Omit<WebhookReport, 'checkedAt'> {
  const base = { expectedUrl: target.url, info }
  if (info.url === '') {
    return { ...base, ok: false, verdict: 'missing', reason: 'No webhook is set at Telegram, so no updates reach this service. Restart the service or POST /telegram/set-webhook to set it.', warnings: [] }
  }
  if (info.url !== target.url) {
    return { ...base, ok: false, verdict: 'mismatch', reason: `Telegram delivers to ${info.url}, not to the configured ${target.url}. Restart the service or POST /telegram/set-webhook to point it here.`, warnings: [] }
  }
  const warnings = webhookDrift(info, target)
  if (recentError(info, nowSeconds)) {
    const when = new Date((info.last_error_date ?? 0) * 1000).toISOString()
    warnings.push(`Telegram's delivery failed at ${when}: ${info.last_error_message ?? 'no message'}`)
    if (secretLooksStale(info, nowSeconds)) warnings.push('A 401 means the secret_token at Telegram differs from TELEGRAM_WEBHOOK_SECRET: POST /telegram/set-webhook or restart to send it again.')
  }
  if (info.pending_update_count > 0) warnings.push(`${info.pending_update_count} updates are waiting at Telegram`)
  return { ...base, ok: true, verdict: 'ok', reason: 'Telegram delivers to the configured webhook URL.', warnings }
}

export interface WebhookInfoSource {
  /** The call is abandoned when `signal` aborts. */
  getWebhookInfo: (signal: AbortSignal) => Promise<WebhookInfo>
}

/**
 * How long one getWebhookInfo may take. Below Docker's 10 s probe timeout, so a probe gets the
 * verdict "unreachable" instead of timing out, and a Telegram that hangs (a connect into a
 * blackhole waits for the kernel, minutes) does not pin the cache's one call past the next probe.
 */
export const WEBHOOK_INFO_TIMEOUT_MS = 8000

export interface WebhookStateOptions {
  /** How long an answer (or a failure) is reused; default 5 s. */
  ttlMs?: number
  /** How long one getWebhookInfo may take; default WEBHOOK_INFO_TIMEOUT_MS. */
  timeoutMs?: number
  now?: () => number
}

export class WebhookState {
  readonly #telegram: WebhookInfoSource
  readonly #target: WebhookTarget
  readonly #ttlMs: number
  readonly #timeoutMs: number
  readonly #now: () => number
  #entry: { promise: Promise<Fetched>, settled: Fetched | undefined } | undefined

  constructor (telegram: WebhookInfoSource, target: WebhookTarget, { ttlMs = 5000, timeoutMs = WEBHOOK_INFO_TIMEOUT_MS, now = Date.now }: WebhookStateOptions = {}) {
    this.#telegram = telegram
    this.#target = target
    this.#ttlMs = ttlMs
    this.#timeoutMs = timeoutMs
    this.#now = now
  }

  /** One getWebhookInfo call at a time, its answer (or failure) reused for the TTL. */
  #fetch (): Promise<Fetched> {
    const entry = this.#entry
    if (entry !== undefined && (entry.settled === undefined || this.#now() - entry.settled.at < this.#ttlMs)) {
      return entry.promise
    }
    const fresh: { promise: Promise<Fetched>, settled: Fetched | undefined } = { promise: Promise.resolve({ error: '', at: 0 }), settled: undefined }
    const signal = AbortSignal.timeout(this.#timeoutMs)
    fresh.promise = this.#telegram.getWebhookInfo(signal).then(
      (info): Fetched => ({ info, at: this.#now() }),
      (err: unknown): Fetched => ({
        error: signal.aborted ? `Telegram did not answer getWebhookInfo within ${this.#timeoutMs} ms` : describeError(err),
        at: this.#now()
      })
    ).then((result) => {
      fresh.settled = result
      return result
    })
    this.#entry = fresh
    return fresh.promise
  }

  /** Forget the cached answer, e.g. after a setWebhook or deleteWebhook. */
  invalidate (): void {
    this.#entry = undefined
  }

  async report (): Promise<WebhookReport> {
    const fetched = await this.#fetch()
    const checkedAt = new Date(fetched.at).toISOString()
    if ('error' in fetched) {
      return { ok: false, verdict: 'unreachable', reason: fetched.error, expectedUrl: this.#target.url, warnings: [], checkedAt }
    }
    return { ...judgeWebhook(fetched.info, this.#target, fetched.at / 1000), checkedAt }
  }
}

function sameSet (a: readonly string[], b: readonly string[]): boolean {
  const sa = new Set(a)
  const sb = new Set(b)
  return sa.size === sb.size && [...sa].every((x) => sb.has(x))
}
