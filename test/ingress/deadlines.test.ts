import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { Deadlines } from '../../src/ingress/deadlines.js'

t.test('a deadline fires once, after its delay, unless cancelled', async (t) => {
  const deadlines = new Deadlines(40)
  const fired: string[] = []
  const started = performance.now()
  let firedAfter = 0
  deadlines.add(() => { fired.push('a'); firedAfter = performance.now() - started })
  const b = deadlines.add(() => { fired.push('b') })
  deadlines.add(() => { fired.push('c') })
  b.cancel()
  b.cancel() // twice is harmless
  t.equal(deadlines.size, 2)
  await sleep(15)
  t.same(fired, [], 'nothing before the delay')
  await sleep(80)
  t.same(fired, ['a', 'c'], 'in the order added; the cancelled one never')
  t.ok(firedAfter >= 39, `fired after ${firedAfter.toFixed(1)} ms, not before the 40 ms delay`)
  t.equal(deadlines.size, 0)
})

t.test('cancelling the head does not make the next deadline fire early', async (t) => {
  const deadlines = new Deadlines(60)
  const first = deadlines.add(() => { t.fail('cancelled') })
  await sleep(30)
  const started = performance.now()
  const fired = new Promise<number>((resolve) => { deadlines.add(() => { resolve(performance.now() - started) }) })
  first.cancel()
  // The timer was armed for the cancelled head (due ~30 ms from now): it must re-arm, not fire
  // the second deadline then. Timers never fire early, so only a lower bound is asserted.
  const firedAfter = await fired
  t.ok(firedAfter >= 59, `fired ${firedAfter.toFixed(1)} ms after it was added, not before its 60 ms delay`)
})

t.test('deadlines added after the list emptied still fire (the timer is re-armed or reused)', async (t) => {
  const deadlines = new Deadlines(10)
  const fired: number[] = []
  for (let round = 0; round < 3; round++) {
    deadlines.add(() => { fired.push(round) }).cancel()
    deadlines.add(() => { fired.push(round) })
    await sleep(40)
  }
  t.same(fired, [0, 1, 2])
})

t.test('a delay of 0 fires on the next timer turn; a negative or infinite delay is refused', async (t) => {
  const deadlines = new Deadlines(0)
  let fired = false
  deadlines.add(() => { fired = true })
  t.equal(fired, false, 'never synchronously')
  await sleep(5)
  t.equal(fired, true)
  t.throws(() => new Deadlines(-1), RangeError)
  t.throws(() => new Deadlines(Infinity), RangeError)
})

// The timer outlives its deadlines (re-arming per update would cost what it saves), so whether it
// holds the process open matters: a pending deadline must, a cancelled one must not.
const deadlinesModule = fileURLToPath(new URL('../../src/ingress/deadlines.ts', import.meta.url))

async function runScript (script: string): Promise<{ ms: number, out: string }> {
  const started = performance.now()
  // Killed after 20 s: a script the timer wrongly holds open fails the test instead of hanging it.
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'], timeout: 20_000 })
  let out = ''
  child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString() })
  await new Promise((resolve, reject) => { child.on('close', resolve).on('error', reject) })
  return { ms: performance.now() - started, out }
}

t.test('a cancelled deadline does not keep the process alive; a pending one does', async (t) => {
  const cancelled = await runScript(`import { Deadlines } from ${JSON.stringify(deadlinesModule)}
    const d = new Deadlines(60000); d.add(() => console.log('fired')).cancel(); console.log('done')`)
  t.equal(cancelled.out.trim(), 'done')
  t.ok(cancelled.ms < 20000, `exited after ${Math.round(cancelled.ms)} ms, not after the 60 s delay`)

  const pending = await runScript(`import { Deadlines } from ${JSON.stringify(deadlinesModule)}
    const d = new Deadlines(300); d.add(() => console.log('fired')); console.log('waiting')`)
  t.equal(pending.out.trim(), 'waiting\nfired', 'the process waited for the deadline')

  const emptiedThenAdded = await runScript(`import { Deadlines } from ${JSON.stringify(deadlinesModule)}
    const d = new Deadlines(300); d.add(() => {}).cancel(); d.add(() => console.log('fired'))`)
  t.equal(emptiedThenAdded.out.trim(), 'fired', 'a reused timer is held again')
})
