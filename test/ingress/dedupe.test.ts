import fc from 'fast-check'
import t from 'tap'
import { FOLLOW_DOWN_AFTER, MemoryDedupe } from '../../src/ingress/dedupe.js'

t.test('a redelivery inside the window is refused; release() lets an id be taken again', async (t) => {
  const dedupe = new MemoryDedupe(100)
  t.ok(dedupe.claim(1000) && dedupe.claim(1001) && dedupe.claim(1003), 'new ids are taken')
  t.notOk(dedupe.claim(1001), 'redelivered')
  t.ok(dedupe.claim(1002), 'an id skipped on the way up is still new')
  t.notOk(dedupe.claim(1002))
  dedupe.release(1002)
  t.ok(dedupe.claim(1002), 'released, so taken again')
  t.equal(dedupe.count, 4)
})

t.test('the window is the last `size` ids by number: older ones go to the small Set, still remembered', async (t) => {
  const dedupe = new MemoryDedupe(3)
  t.ok(dedupe.claim(1) && dedupe.claim(2) && dedupe.claim(3))
  t.ok(dedupe.claim(4), 'the window is now 2..4')
  t.ok(dedupe.claim(1), 'never claimed as an older id: taken')
  t.notOk(dedupe.claim(1), 'and remembered there')
  dedupe.release(1)
  t.ok(dedupe.claim(1), 'released there too')
  t.notOk(dedupe.claim(4))
  t.throws(() => new MemoryDedupe(0), RangeError)
  t.throws(() => new MemoryDedupe(1.5), RangeError)
})

t.test('the ring positions the window slides over are cleared: an id a whole ring later is new', async (t) => {
  const dedupe = new MemoryDedupe(32) // exactly one ring of 32 positions
  for (let id = 0; id < 32; id++) t.ok(dedupe.claim(id))
  t.ok(dedupe.claim(32), 'same position as 0, a ring later')
  t.ok(dedupe.claim(40), 'slides over 33..39')
  for (let id = 33; id < 40; id++) t.ok(dedupe.claim(id), `${id} (the position of ${id - 32}) is new`)
  t.notOk(dedupe.claim(39))
})

t.test('after Telegram restarts the numbering (a random id after a week), the new ids are deduplicated', async (t) => {
  const dedupe = new MemoryDedupe(1000)
  for (let id = 500_000; id < 500_100; id++) dedupe.claim(id)
  t.ok(dedupe.claim(7), 'far below: a new sequence')
  t.ok(dedupe.claim(8))
  t.notOk(dedupe.claim(7), 'redelivery in the new sequence')
  t.notOk(dedupe.claim(8))
  t.ok(dedupe.claim(9_000_000), 'far above: also a new sequence')
  t.notOk(dedupe.claim(9_000_000))
  t.ok(dedupe.claim(2 ** 40), 'ids beyond 32 bits work')
  t.notOk(dedupe.claim(2 ** 40))
  t.ok(dedupe.claim(2 ** 40 + 1))
  t.ok(dedupe.claim(2 ** 40 - 1))
  t.notOk(dedupe.claim(2 ** 40 - 1))
})

t.test('an outlier far below the window is a straggler: checked, remembered, and the window stays', async (t) => {
  const dedupe = new MemoryDedupe() // 65 536 ids
  for (let id = 200_000; id < 270_000; id++) dedupe.claim(id)
  t.ok(dedupe.claim(270_000 - 131_073), 'more than two windows below the newest: taken')
  t.notOk(dedupe.claim(270_000 - 131_073), 'and its redelivery refused')
  let refused = 0
  for (let id = 270_000 - 65_536; id < 270_000; id++) if (!dedupe.claim(id)) refused++
  t.equal(refused, 65_536, 'every redelivery within the window is still refused (it used to be wiped)')
  t.ok(dedupe.claim(270_000), 'the next new id is taken')
})

t.test('a far jump upwards moves the window; the stragglers already remembered stay remembered', async (t) => {
  const dedupe = new MemoryDedupe(1000)
  for (let id = 5000; id < 6000; id++) dedupe.claim(id)
  t.ok(dedupe.claim(100), 'a straggler')
  t.ok(dedupe.claim(10_000_000), 'far above: the window starts there')
  t.ok(dedupe.claim(10_000_001))
  t.notOk(dedupe.claim(10_000_000), 'redelivery in the new window')
  t.notOk(dedupe.claim(100), 'the straggler is still known')
})

t.test(`the week-idle random jump downwards: after ${FOLLOW_DOWN_AFTER} claims below, the window follows, and no redelivery gets through`, async (t) => {
  const dedupe = new MemoryDedupe() // 65 536 ids in the window, 4096 stragglers at most
  for (let id = 900_000; id < 910_000; id++) dedupe.claim(id)
  const restart = 37_000
  const early = FOLLOW_DOWN_AFTER - 6
  let taken = 0
  for (let id = restart; id < restart + early; id++) if (dedupe.claim(id)) taken++
  let refused = 0
  for (let id = restart; id < restart + early; id++) if (!dedupe.claim(id)) refused++
  t.equal(refused, early, 'redeliveries before the window followed: refused, from the straggler set')
  for (let id = restart + early; id < restart + 10_000; id++) if (dedupe.claim(id)) taken++
  t.equal(taken, 10_000, 'every id of the new sequence is new')
  refused = 0
  for (let id = restart; id < restart + 10_000; id++) if (!dedupe.claim(id)) refused++
  t.equal(refused, 10_000, 'all 10 000 redeliveries refused: the window moved to the new sequence (the straggler set holds 4096)')
  t.ok(dedupe.count <= 65_536 + 4096, 'memory stays bounded')
})

// The two properties that matter, against every sequence fast-check can think of: a new id is never
// refused (we would drop an update), and a redelivery is refused as long as it is near the newest
// id, the way Telegram's redeliveries are.
t.test('property: claim() never refuses an id that is not currently claimed', async (t) => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant('claim' as const), id: fc.nat({ max: 5000 }) }),
    fc.record({ kind: fc.constant('claim' as const), id: fc.nat({ max: 2 ** 40 }) }),
    fc.record({ kind: fc.constant('release' as const), id: fc.nat({ max: 5000 }) }),
    fc.record({ kind: fc.constant('rise' as const), id: fc.integer({ min: -20, max: 60 }) })
  )
  const result = fc.check(fc.property(fc.integer({ min: 1, max: 300 }), fc.array(op, { maxLength: 400 }), (size, ops) => {
    const dedupe = new MemoryDedupe(size)
    const claimed = new Set<number>()
    let last = 0
    for (const op of ops) {
      const { kind } = op
      // 'rise': an id near the last one, mostly above it, as Telegram numbers them.
      const id = kind === 'rise' ? Math.max(0, last + op.id) : op.id
      last = id
      if (kind === 'release') {
        dedupe.release(id)
        claimed.delete(id)
        continue
      }
      const taken = dedupe.claim(id)
      if (!claimed.has(id) && !taken) throw new Error(`id ${id} was never claimed (or was released) but was refused`)
      claimed.add(id)
    }
  }), { numRuns: 300 })
  t.notOk(result.failed, fc.defaultReportMessage(result) ?? '')
  t.equal(result.numRuns, 300)
})

t.test('property: in a Telegram-like stream (ids rising, out of order by up to 100), every redelivery within the window is refused', async (t) => {
  const result = fc.check(fc.property(
    fc.nat({ max: 2 ** 31 }),
    fc.array(fc.record({ step: fc.nat({ max: 3 }), back: fc.nat({ max: 100 }), redeliver: fc.boolean() }), { minLength: 1, maxLength: 2000 }),
    (start, steps) => {
      const size = 1000
      const dedupe = new MemoryDedupe(size)
      let next = start
      let high = -1
      const seen = new Set<number>()
      for (const { step, back, redeliver } of steps) {
        next += step
        const id = redeliver && seen.size > 0 ? Math.max(start, next - back) : next
        const expected = !seen.has(id)
        const taken = dedupe.claim(id)
        if (taken !== expected && (expected || id > high - size)) {
          throw new Error(`id ${id} (highest so far ${high}): claim gave ${String(taken)}, expected ${String(expected)}`)
        }
        seen.add(id)
        high = Math.max(high, id)
      }
    }), { numRuns: 300 })
  t.notOk(result.failed, fc.defaultReportMessage(result) ?? '')
  t.equal(result.numRuns, 300)
})
