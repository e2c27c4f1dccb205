// Issue 14's tables and targets: the durable contenders' acks set against the in-memory service in
// the same rounds, PostgreSQL's and the workers' CPU in each window, the worker phase's scaling,
// and the goals (>= 1,500 acks/s with p99 <= 50 ms; >= 1.7x with 2 workers; acks that do not
// depend on the bot's cost once the bot runs on workers).
import { fmt, median, ratioOf, ratiosOf, table, type Sample, type Target } from './report.js'
import type { ScalingResult } from './workers.js'

export type { DurableSample } from './report.js'

const NOOP = 'ingress-noop'
const DURABLE = 'durable-noop'
const DRAIN_NOOP = 'durable-drain-noop'
/** The in-memory contenders the durable ones are set against. */
const REFERENCES = [NOOP, 'ingress-slow-budget0', 'ingress-cpu-budget0']
/** issue 5's budget-0 line: the ack rate with a costly bot at least 0.833 x the no-op bot's. */
const BUDGET0_LINE = 0.833

function spread (values: number[], digits = 0): string {
  const finite = values.filter(Number.isFinite)
  return finite.length === 0 ? '-' : `${fmt(Math.min(...finite), digits)}-${fmt(Math.max(...finite), digits)}`
}

function ratioRange (samples: Sample[], a: string, b: string, pick: (s: Sample) => number | undefined): string {
  const ratios = ratiosOf(samples, a, b, pick)
  if (ratios.length === 0) return '-'
  return `x${median(ratios).toFixed(3)} (${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)})`
}

/** The durable contenders and their in-memory references: medians over rounds, ratios within a round. */
export function formatDurable (samples: Sample[], order: string[]): string {
  const names = order.filter((c) => samples.some((s) => s.contender === c && (s.durable !== undefined || REFERENCES.includes(c))))
  const rps = (s: Sample): number => s.rps
  const rows = names.map((c) => {
    const mine = samples.filter((s) => s.contender === c)
    const med = (pick: (s: Sample) => number): number => median(mine.map(pick))
    const d = (pick: (x: NonNullable<Sample['durable']>) => number): number => med((s) => s.durable === undefined ? NaN : pick(s.durable))
    const isDrain = mine.some((s) => (s.durable?.workers ?? 0) > 0)
    return [
      c,
      fmt(med(rps)), spread(mine.map(rps)),
      c === NOOP ? '' : ratioRange(samples, c, NOOP, rps),
      isDrain && c !== DRAIN_NOOP ? ratioRange(samples, c, DRAIN_NOOP, rps) : '',
      fmt(med((s) => s.p50Ms), 1), fmt(med((s) => s.p99Ms), 1),
      mine.some((s) => s.paced !== undefined) ? `${fmt(med((s) => s.paced?.rate ?? NaN))}: ${fmt(med((s) => s.paced?.p50Ms ?? NaN), 1)}/${fmt(med((s) => s.paced?.p99Ms ?? NaN), 1)}` : '',
      fmt(med((s) => s.cpuUsPerUpdate), 0), fmt(d((x) => x.dbCpuUsPerUpdate), 0),
      `${fmt(med((s) => s.serverCpuPct))}%`, Number.isFinite(d((x) => x.dbCpuPct)) ? `${fmt(d((x) => x.dbCpuPct))}%` : '',
      isDrain ? `${fmt(d((x) => x.workerCpuPct))}%` : '', isDrain ? fmt(d((x) => x.workerHandledPerS)) : '',
      `${fmt(med((s) => s.cpuBusyPct[1] ?? NaN))}%`, `${fmt(med((s) => s.othersCpuPct))}%`,
      mine.every((s) => s.handledOk) ? 'yes' : 'NO'
    ]
  })
  return 'durable contenders (acks: saturation with 100 connections; "x" columns: median (range) of the per-round ratios; CPU per acknowledged update)\n' + table(
    ['contender', 'acks/s', 'range', 'x ingress-noop', 'x drain-noop', 'p50 ms', 'p99 ms', 'paced /s: p50/p99 ms', 'web CPU us', 'PG CPU us', 'web CPU', 'PG CPU', 'workers CPU', 'handled/s', 'CPU1 busy', 'others', 'once'],
    rows
  )
}

export function formatScaling (result: ScalingResult): string {
  const counts = [...new Set(result.runs.map((r) => r.workers))].sort((a, b) => a - b)
  const rows = counts.map((n) => {
    const mine = result.runs.filter((r) => r.workers === n)
    const med = (pick: (r: typeof mine[number]) => number): number => median(mine.map(pick))
    return [
      String(n), String(mine.length),
      fmt(med((r) => r.handledPerS)), spread(mine.map((r) => r.handledPerS)),
      fmt(med((r) => r.workerCpuUs)), fmt(med((r) => r.handlerCpuUs)), fmt(med((r) => r.dbCpuUs)),
      `${fmt(med((r) => r.cpuPct))}%`, `${fmt(med((r) => r.othersPct))}%`,
      mine.every((r) => r.ok) ? 'yes' : 'NO'
    ]
  })
  const [low, high] = result.ratioRange
  return `worker phase: the 1 ms CPU bot on N worker processes, stored updates timed until all are done; ${counts.at(-1) ?? '-'} vs ${counts[0] ?? '-'} workers: x${result.ratio.toFixed(3)} (rounds ${low.toFixed(2)}-${high.toFixed(2)})\n` + table(
    ['workers', 'runs', 'updates/s', 'range', 'workers CPU us/upd', 'of which handler', 'PG CPU us/upd', 'CPUs busy', 'others', 'once, in order'],
    rows
  )
}

export function judgeDurableTargets (samples: Sample[], scaling: ScalingResult | undefined, pacedRate: number): Target[] {
  const has = (c: string): boolean => samples.some((s) => s.contender === c)
  const med = (c: string, pick: (s: Sample) => number | undefined): number => median(samples.filter((s) => s.contender === c).map((s) => pick(s) ?? NaN))
  const absolute = (what: string, c: string, pick: (s: Sample) => number | undefined, limit: number, atLeast: boolean): Target => {
    const value = has(c) ? med(c, pick) : NaN
    return { what, value: Number.isFinite(value) ? value : undefined, limit: `${atLeast ? '>=' : '<='} ${limit}`, met: Number.isFinite(value) ? (atLeast ? value >= limit : value <= limit) : undefined }
  }
  const ratio = (what: string, a: string, b: string, pick: (s: Sample) => number | undefined, limit?: number): Target => {
    const value = has(a) && has(b) ? ratioOf(samples, a, b, pick) : NaN
    const known = Number.isFinite(value)
    return { what, value: known ? value : undefined, limit: limit === undefined ? 'reported' : `>= ${limit}`, met: !known || limit === undefined ? undefined : value >= limit }
  }
  const once = (c: string): Target => {
    const mine = samples.filter((s) => s.contender === c)
    return { what: `${c}: every acked update stored once, none handled twice or out of chat order`, value: undefined, limit: 'all rounds', met: mine.length === 0 ? undefined : mine.every((s) => s.handledOk) }
  }
  const serviceCpu = (s: Sample): number => s.cpuUsPerUpdate + (s.durable?.dbCpuUsPerUpdate ?? 0)
  const rps = (s: Sample): number => s.rps
  return [
    absolute(`${DURABLE}: acknowledged updates/s, saturated, 100 connections`, DURABLE, rps, 1500, true),
    absolute(`${DURABLE}: p99 ms at that saturation (Little: 100 connections / rate)`, DURABLE, (s) => s.p99Ms, 50, false),
    absolute(`${DURABLE}: p99 ms paced at ${pacedRate}/s (open loop, <= 100 connections)`, DURABLE, (s) => s.paced?.p99Ms, 50, false),
    ratio(`${DURABLE} updates/s vs ${NOOP}`, DURABLE, NOOP, rps),
    ratio(`${DURABLE} CPU per update (web + PostgreSQL) vs ${NOOP}`, DURABLE, NOOP, serviceCpu),
    { what: 'worker phase: handled updates/s, 2 worker processes vs 1', value: scaling?.ratio, limit: '>= 1.7', met: scaling === undefined || !Number.isFinite(scaling.ratio) ? undefined : scaling.ratio >= 1.7 },
    ratio(`durable-drain-cpu acks/s vs ${DRAIN_NOOP} (issue 5's budget-0 line)`, 'durable-drain-cpu', DRAIN_NOOP, rps, BUDGET0_LINE),
    ratio(`durable-drain-slow acks/s vs ${DRAIN_NOOP} (the same)`, 'durable-drain-slow', DRAIN_NOOP, rps, BUDGET0_LINE),
    ratio(`${DRAIN_NOOP} acks/s vs ${DURABLE} (what a draining worker costs the acks)`, DRAIN_NOOP, DURABLE, rps),
    ratio(`in memory, for contrast: ingress-cpu-budget0 vs ${NOOP}`, 'ingress-cpu-budget0', NOOP, rps),
    ratio(`in memory, for contrast: ingress-slow-budget0 vs ${NOOP}`, 'ingress-slow-budget0', NOOP, rps),
    ...[DURABLE, DRAIN_NOOP, 'durable-drain-cpu', 'durable-drain-slow'].filter(has).map(once)
  ]
}
