/**
 * What happened to webhook deliveries of one bot, for tests and the sandbox UI. It outlives any
 * single webhook (setWebhook replaces the deliverer, not the history).
 */
export interface DeliveryStats {
  /** POSTs started. */
  attempts: number
  /** 2xx answers. */
  successes: number
  /** Non-2xx answers, timeouts and connection errors. */
  failures: number
  /** POSTs of an update the webhook had already received once (at-least-once delivery). */
  duplicates: number
  /** Updates dropped because a retry would outlive them. */
  expired: number
  inFlight: number
  /** Most POSTs in flight at once so far. */
  maxInFlight: number
}

export interface DeliveryRecord {
  updateId: number
  /** 1 for the first POST of this update, 2 for the first retry... */
  attempt: number
  startedAt: number
  finishedAt?: number
  /** HTTP status, when there was an answer. */
  status?: number
  /** Telegram's last_error_message text for a failure; absent on success. */
  error?: string
}

const MAX_RECORDS = 1000

export class DeliveryLedger {
  readonly stats: DeliveryStats = {
    attempts: 0, successes: 0, failures: 0, duplicates: 0, expired: 0, inFlight: 0, maxInFlight: 0
  }

  private readonly records: DeliveryRecord[] = []
  private readonly receivedIds = new Set<number>()

  started (updateId: number, attempt: number, at: number): DeliveryRecord {
    const record: DeliveryRecord = { updateId, attempt, startedAt: at }
    this.stats.attempts++
    if (this.receivedIds.has(updateId)) this.stats.duplicates++
    this.stats.inFlight++
    this.stats.maxInFlight = Math.max(this.stats.maxInFlight, this.stats.inFlight)
    this.records.push(record)
    if (this.records.length > MAX_RECORDS) this.records.shift()
    return record
  }

  finished (record: DeliveryRecord, at: number, result: { status?: number, error?: string, reachedWebhook: boolean }): void {
    record.finishedAt = at
    if (result.status !== undefined) record.status = result.status
    if (result.error !== undefined) record.error = result.error
    if (result.reachedWebhook) this.receivedIds.add(record.updateId)
    this.stats.inFlight--
    if (result.error === undefined) this.stats.successes++
    else this.stats.failures++
  }

  /** A POST dropped unanswered because its webhook was replaced or the emulator closed. */
  abandoned (record: DeliveryRecord): void {
    record.error = 'abandoned'
    this.stats.inFlight--
  }

  expired (): void {
    this.stats.expired++
  }

  snapshot (): { stats: DeliveryStats, records: DeliveryRecord[] } {
    return { stats: { ...this.stats }, records: this.records.map((record) => ({ ...record })) }
  }
}
