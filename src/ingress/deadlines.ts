// Many timeouts of one fixed length on a single Node timer. Every update gets two (the handler budget
// and the handler timeout) and almost all of them are cancelled within microseconds, so a timer per
// update (a Timeout object, the timer list, clearTimeout) was a measurable share of the update path.
// With one fixed delay, a deadline added later expires later: a linked list in insertion order is
// already sorted, adding is appending and cancelling is unlinking, both O(1).

export interface Deadline {
  /** Stops it from firing; harmless after it fired or was cancelled. */
  cancel: () => void
}

interface Entry extends Deadline {
  at: number
  onExpire: () => void
  prev: Entry | undefined
  next: Entry | undefined
  linked: boolean
}

export class Deadlines {
  readonly delayMs: number
  #head: Entry | undefined
  #tail: Entry | undefined
  #timer: NodeJS.Timeout | undefined

  constructor (delayMs: number) {
    if (!Number.isFinite(delayMs) || delayMs < 0) throw new RangeError('delayMs must be a finite number >= 0')
    this.delayMs = delayMs
  }

  /** Calls onExpire once, delayMs from now, unless cancelled first. */
  add (onExpire: () => void): Deadline {
    const entry: Entry = {
      at: performance.now() + this.delayMs,
      onExpire,
      prev: this.#tail,
      next: undefined,
      linked: true,
      cancel: () => { this.#unlink(entry) }
    }
    if (this.#tail === undefined) {
      this.#head = entry
      // Something to wait for again: like any pending timeout, it keeps the process alive.
      this.#timer?.ref()
    } else {
      this.#tail.next = entry
    }
    this.#tail = entry
    // A timer already armed fires no later than this entry is due; it re-arms for the rest.
    if (this.#timer === undefined) this.#arm(entry.at)
    return entry
  }

  /** Deadlines not yet fired or cancelled. O(n): for tests. */
  get size (): number {
    let n = 0
    for (let e = this.#head; e !== undefined; e = e.next) n++
    return n
  }

  #unlink (entry: Entry): void {
    if (!entry.linked) return
    entry.linked = false
    if (entry.prev === undefined) this.#head = entry.next
    else entry.prev.next = entry.next
    if (entry.next === undefined) this.#tail = entry.prev
    else entry.next.prev = entry.prev
    entry.prev = entry.next = undefined
    // The timer stays armed when the list empties, unref'd so that it keeps nobody waiting:
    // clearing and re-arming it would cost what a timer per update costs. It fires once for nothing.
    if (this.#head === undefined) this.#timer?.unref()
  }

  #arm (at: number): void {
    this.#timer = setTimeout(() => { this.#fire() }, Math.max(0, at - performance.now()))
  }

  #fire (): void {
    this.#timer = undefined
    const now = performance.now()
    // The head was cancelled since the timer was armed: the timer may fire before the new head is due.
    for (let entry = this.#head; entry !== undefined && entry.at <= now; entry = this.#head) {
      this.#unlink(entry)
      entry.onExpire()
    }
    if (this.#head !== undefined && this.#timer === undefined) this.#arm(this.#head.at)
  }
}
