// Telegram delivers at least once: an update whose 2xx got lost is sent again with the same
// update_id ("allows you to ignore repeated updates", Bot API #update). The seam is async-capable so
// a shared store (Redis SET NX EX) can replace the in-memory window when several replicas run.

export interface UpdateDedupe {
  /** True when this id was not seen before and is now taken; false for a redelivery. */
  claim: (updateId: number) => boolean | Promise<boolean>
  /** Forget a claim whose update was not acknowledged, so Telegram's resend is handled. */
  release: (updateId: number) => void | Promise<void>
}

/**
 * The last `size` update ids, in a Set for lookup and a ring for eviction order. update_id grows
 * per bot but can jump after a week of silence (Bot API #update), so a plain "highest id seen"
 * watermark would be wrong; a window of recent ids is not.
 */
export class MemoryDedupe implements UpdateDedupe {
  readonly #seen = new Set<number>()
  readonly #ring: Array<number | undefined>
  #next = 0

  constructor (readonly size = 10_000) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError('dedupe window size must be a positive integer')
    this.#ring = new Array<number | undefined>(size)
  }

  claim (updateId: number): boolean {
    if (this.#seen.has(updateId)) return false
    const evicted = this.#ring[this.#next]
    if (evicted !== undefined) this.#seen.delete(evicted)
    this.#ring[this.#next] = updateId
    this.#next = (this.#next + 1) % this.size
    this.#seen.add(updateId)
    return true
  }

  release (updateId: number): void {
    // The ring keeps its slot; evicting an id that is no longer in the Set is harmless.
    this.#seen.delete(updateId)
  }

  get count (): number {
    return this.#seen.size
  }
}
