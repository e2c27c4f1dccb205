// The probe's one table: a row per figure, what was measured beside what the service promises, and
// whether it held (n/a for a figure shown for its own sake).
export interface Row {
  check: string
  what: string
  measured: string
  expected: string
  ok: boolean | undefined
}

/** A check's rows, and those that can only be read once its service has stopped (the last log lines). */
export interface CheckResult {
  rows: Row[]
  afterStop?: () => Row[]
}

/**
 * The row for a repeated warning: one line at once, then one a minute with the count, written out
 * at the latest when the service stops. `expected` is how many times it was triggered, or the least
 * it was (`atLeast`: a client that cannot see every trigger, such as a request whose answer was lost).
 */
export function warningLinesRow (check: string, what: string, lines: Array<Record<string, unknown>>, expected: number, elapsedMs: number, atLeast = false): Row {
  const counted = lines.length === 0 ? 0 : 1 + lines.slice(1).reduce((n, l) => n + Number(l.repeated ?? 0), 0)
  const allowed = 2 + Math.floor(elapsedMs / 60_000)
  return {
    check,
    what,
    measured: `${count(lines.length)} lines counting ${count(counted)}`,
    expected: `at most ${allowed} lines counting ${atLeast ? 'at least ' : ''}${count(expected)}`,
    ok: lines.length <= allowed && (atLeast ? counted >= expected : counted === expected)
  }
}

export function formatRows (rows: Row[]): string {
  const cells = [['check', 'what', 'measured', 'expected', 'ok'], ...rows.map((r) => [r.check, r.what, r.measured, r.expected, r.ok === undefined ? 'n/a' : r.ok ? 'yes' : 'NO'])]
  const widths = cells[0]?.map((_, i) => Math.max(...cells.map((row) => row[i]?.length ?? 0))) ?? []
  return cells.map((row) => row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n')
}

/** Seconds with one decimal, from milliseconds. */
export const seconds = (ms: number): string => (ms / 1000).toFixed(1)

/** 1,234 */
export const count = (n: number): string => n.toLocaleString('en-US')

/** "min-max s (median m)" of durations in ms, or "-" for none. */
export function spread (ms: number[]): string {
  if (ms.length === 0) return '-'
  const sorted = [...ms].sort((a, b) => a - b)
  const median = sorted[Math.floor(sorted.length / 2)] ?? 0
  return `${seconds(sorted[0] ?? 0)}-${seconds(sorted[sorted.length - 1] ?? 0)} s (median ${seconds(median)})`
}

/** {"200": 3, "408": 1} as "200 x3, 408 x1", by status. */
export function tally (counts: Record<string, number>): string {
  const entries = Object.entries(counts).sort(([a], [b]) => a.localeCompare(b))
  return entries.length === 0 ? 'none' : entries.map(([k, v]) => `${k} x${count(v)}`).join(', ')
}
