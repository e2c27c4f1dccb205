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
 * - Below the window, however far: an update that kept failing while the bot's other chats went
 *   on (a busy bot moves millions of ids in Telegram's 24 h). Such ids go to a small Set of their
 *   own, oldest forgotten first; the window stays where it is.
 * - After a week without updates Telegram picks the next id at random (Bot API #update). Far above
 *   (more than a ring): the window starts again there, since the old ids were delivered long ago.
 *   Below: the new sequence's first ids are stragglers, until FOLLOW_DOWN_AFTER claims in a row
 *   fell below the window; then the window moves down to them, taking their ids along.
 */
/** Claims in a row below the window (none in or above it) after which the window follows them. */
export const FOLLOW_DOWN_AFTER = 256

export class MemoryDedupe implements UpdateDedupe {
  readonly #bits: Uint32Array
  /** Ring positions - 1 (a power of two, at least `size`). */
  readonly #mask: number
  /** The highest id in the window; -1 before the first claim. */
  #high = -1
  readonly #older = new Set<number>()
  readonly #olderMax: number
  /** Claims in a row below the window, and the highest of them. */
  #belowRun = 0
  #belowRunHigh = -1

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
    if (updateId <= high - this.size) return this.#claimBelow(updateId)
    this.#belowRun = 0
    if (updateId > high) this.#slideTo(updateId)
    else if (this.#has(updateId)) return false
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
    this.#high = updateId
    // Stragglers that fall inside the new window move into it, where claim() looks for them.
    for (const id of this.#older) {
      if (id <= updateId && id > updateId - this.size) {
        this.#set(id)
        this.#older.delete(id)
      }
    }
  }

  #claimBelow (updateId: number): boolean {
    if (this.#older.has(updateId)) return false
    if (this.#older.size >= this.#olderMax) this.#older.delete(this.#older.values().next().value as number)
    this.#older.add(updateId)
    this.#belowRunHigh = this.#belowRun === 0 ? updateId : Math.max(this.#belowRunHigh, updateId)
    if (++this.#belowRun >= FOLLOW_DOWN_AFTER) {
      this.#belowRun = 0
      this.#restartAt(this.#belowRunHigh)
    }
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
