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
 * Remembers recent update ids by position, one bit each. Telegram numbers a bot's updates one after
 * another (Bot API #update), so the ids in flight sit close together: the window (high - size, high]
 * is a ring of bits (8 KiB for the default 65 536 ids) and a claim touches one word of it. A Set of
 * ids and a ring for eviction did the same with ~0.5 MB scattered over the heap, and cost 3.5% of
 * the CPU per update in an A/B run (bench/README.md).
 *
 * - Below the window: an update that kept failing while the bot's other chats went on. Such ids go
 *   to a small Set of their own, oldest forgotten first.
 * - Far away (more than a window above, or two below): after a week without updates Telegram picks
 *   the next id at random, so the window starts again there.
 */
export class MemoryDedupe implements UpdateDedupe {
  readonly #bits: Uint32Array
  /** Ring positions - 1 (a power of two, at least `size`). */
  readonly #mask: number
  /** The highest id in the window; -1 before the first claim. */
  #high = -1
  readonly #older = new Set<number>()
  readonly #olderMax: number

  constructor (readonly size = 65_536) {
    if (!Number.isInteger(size) || size < 1 || size > 2 ** 24) throw new RangeError('dedupe window size must be an integer from 1 to 16777216')
    let positions = 32
    while (positions < size) positions *= 2
    this.#bits = new Uint32Array(positions / 32)
    this.#mask = positions - 1
    this.#olderMax = Math.min(size, 4096)
  }

  claim (updateId: number): boolean {
    const high = this.#high
    if (updateId > high) {
      this.#slideTo(updateId)
    } else if (updateId > high - this.size) {
      if (this.#has(updateId)) return false
    } else if (updateId > high - 2 * this.size) {
      return this.#claimOlder(updateId)
    } else {
      this.#restartAt(updateId)
    }
    this.#set(updateId)
    return true
  }

  release (updateId: number): void {
    if (updateId <= this.#high && updateId > this.#high - this.size) this.#clear(updateId)
    else this.#older.delete(updateId)
  }

  /** Ids remembered now. O(size): for tests. */
  get count (): number {
    let n = this.#older.size
    for (let id = Math.max(0, this.#high - this.size + 1); id <= this.#high; id++) if (this.#has(id)) n++
    return n
  }

  #slideTo (updateId: number): void {
    if (this.#high < 0 || updateId - this.#high > this.#mask) {
      this.#restartAt(updateId)
      return
    }
    // The positions the window slides over still hold ids a whole ring older: clear them.
    for (let id = this.#high + 1; id < updateId; id++) this.#clear(id)
    this.#clear(updateId)
    this.#high = updateId
  }

  #restartAt (updateId: number): void {
    this.#bits.fill(0)
    this.#older.clear()
    this.#high = updateId
  }

  #claimOlder (updateId: number): boolean {
    if (this.#older.has(updateId)) return false
    if (this.#older.size >= this.#olderMax) this.#older.delete(this.#older.values().next().value as number)
    this.#older.add(updateId)
    return true
  }

  // `id & mask` is id modulo the ring for any non-negative safe integer (bitwise ops take it mod 2^32).
  #has (updateId: number): boolean {
    const at = updateId & this.#mask
    return ((this.#bits[at >>> 5] ?? 0) & (1 << (at & 31))) !== 0
  }

  #set (updateId: number): void {
    const at = updateId & this.#mask
    this.#bits[at >>> 5] = (this.#bits[at >>> 5] ?? 0) | (1 << (at & 31))
  }

  #clear (updateId: number): void {
    const at = updateId & this.#mask
    this.#bits[at >>> 5] = (this.#bits[at >>> 5] ?? 0) & ~(1 << (at & 31))
  }
}
