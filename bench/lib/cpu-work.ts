// The CPU-bound bot's work (issue 14): a fixed number of xorshift steps per update, not a loop on
// the clock. A loop on the clock would cost less CPU per update whenever the process is preempted
// (two workers and PostgreSQL on two cores are), and so flatter the scaling. The runner calibrates
// the count once per run, on its own, and hands it to every process as BENCH_CPU_ITERATIONS.

/** Where the result goes, so the loop is never dead code to the JIT. */
let sink = 0

export function cpuWork (iterations: number): void {
  let x = 0x9e3779b9 ^ sink
  for (let i = 0; i < iterations; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
  }
  sink = x | 1
}

function cpuUs (): number {
  const { user, system } = process.cpuUsage()
  return user + system
}

/**
 * Iterations that take `targetUs` of CPU here: the quickest of several timed runs of about 50 ms
 * (the least disturbed by the rest of the machine), after a warm-up that lets the JIT optimise it.
 */
export function calibrateCpuWork (targetUs: number): number {
  const probe = 20_000_000
  for (let i = 0; i < 3; i++) cpuWork(probe / 10)
  let fastest = Infinity
  for (let i = 0; i < 7; i++) {
    const t0 = cpuUs()
    cpuWork(probe)
    fastest = Math.min(fastest, (cpuUs() - t0) / probe)
  }
  return Math.max(1, Math.round(targetUs / fastest))
}
