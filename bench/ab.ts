// A/B of one hot-path change: this build and a baseline build of the same contender run at the same
// time, both pinned to CPU 0 (sharing it), each loaded by its own wrk on CPU 1. Whatever the
// neighbours on a shared machine do to CPU 0 then happens to both at once, so the per-round ratio of
// their CPU time per update shows differences of a few percent that sequential runs drown in noise.
//
//   cp -r dist/bench dist/bench-base     (before the change; then change, npx tsc -p bench/tsconfig.json)
//   node dist/bench/bench/ab.js --baseline dist/bench-base [--rounds 10] [--duration 5] [--bot noop|slow]
//   node dist/bench/bench/ab.js --a contenders/x.js --a-env K=V,K2=V2 --b contenders/y.js   (any two contenders)
import { mkdirSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { canPin, cpuTimeUs, freePort, killStarted, pinSelf, startNode, stopProcess, waitForHttp, type Started } from './lib/proc.js'
import { median } from './lib/report.js'
import { contenderEnv, SECRET } from './lib/settings.js'
import { runWrk } from './lib/wrk.js'

const HERE = dirname(fileURLToPath(import.meta.url))
const ROOT = resolve(HERE, '..', '..', '..')
const BENCH_DIR = join(ROOT, 'bench')

const { values } = parseArgs({
  options: {
    baseline: { type: 'string' },
    rounds: { type: 'string', default: '10' },
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '50' },
    bot: { type: 'string', default: 'noop' },
    a: { type: 'string' },
    b: { type: 'string' },
    'a-env': { type: 'string', default: '' },
    'b-env': { type: 'string', default: '' }
  }
})
if (values.baseline === undefined && values.b === undefined) {
  console.error('usage: ab.js --baseline DIR | --b SCRIPT [--a SCRIPT] [--a-env K=V,..] [--b-env K=V,..] [--rounds N] [--duration S] [--connections N per side] [--bot noop|slow]')
  process.exit(2)
}
const envList = (list: string): Record<string, string> => Object.fromEntries(list.split(',').filter((kv) => kv.includes('=')).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]))
const rounds = Number(values.rounds)
const durationS = Number(values.duration)
const connections = Number(values.connections)

interface Side { name: string, script: string, env: Record<string, string>, proc?: Started, url?: string }

async function main (): Promise<void> {
  const pin = canPin()
  if (pin) pinSelf(1)
  else console.warn('warning: cannot pin: the comparison still holds, the absolute figures less so')
  const logDir = join(BENCH_DIR, 'results', 'logs', `ab-${new Date().toISOString().replace(/[:.]/g, '-')}`)
  mkdirSync(logDir, { recursive: true })
  const stubPort = await freePort()
  const stub = startNode(join(HERE, 'bot-api-stub.js'), { ...process.env, PORT: String(stubPort) }, join(logDir, 'bot-api-stub.log'), pin ? 1 : undefined)
  const stubUrl = `http://127.0.0.1:${stubPort}`
  await waitForHttp(`${stubUrl}/__bench/stats`, stub, 30_000)
  const sides: Side[] = [
    { name: 'A', script: resolve(HERE, values.a ?? join('contenders', 'ingress.js')), env: envList(values['a-env']) },
    { name: 'B', script: values.b !== undefined ? resolve(HERE, values.b) : resolve(values.baseline as string, 'bench', 'contenders', 'ingress.js'), env: envList(values['b-env']) }
  ]
  console.log(`A = ${sides[0]?.script} ${values['a-env']}\nB = ${sides[1]?.script} ${values['b-env']}`)
  const ratios: { rps: number[], cpu: number[] } = { rps: [], cpu: [] }
  let nextId = 100_000_000
  try {
    for (let round = 1; round <= rounds; round++) {
      // Alternate which side starts first, so neither always gets the warmer start.
      const order = round % 2 === 0 ? [...sides].reverse() : sides
      for (const side of order) {
        const port = await freePort()
        side.proc = startNode(side.script, contenderEnv(port, stubUrl, join(logDir, `${side.name}.r${round}.stats.json`), { BENCH_BOT: values.bot as string, ...side.env }), join(logDir, `${side.name}.r${round}.log`), pin ? 0 : undefined)
        side.url = `http://127.0.0.1:${port}/telegram/webhook`
        await waitForHttp(`http://127.0.0.1:${port}/`, side.proc, 30_000)
      }
      const load = (side: Side, seconds: number): ReturnType<typeof runWrk> => {
        const sequence = { firstUpdateId: nextId, firstUserId: 500_000_000, users: 1000 }
        nextId += 20_000_000
        return runWrk({ url: side.url as string, secret: SECRET, connections, durationS: seconds, sequence, benchDir: BENCH_DIR, scratchDir: logDir, ...(pin && { cpu: 1 }) })
      }
      await Promise.all(sides.map(async (side) => await load(side, 2))) // warm-up
      const cpu0 = sides.map((side) => cpuTimeUs((side.proc as Started).pid))
      const results = await Promise.all(sides.map(async (side) => await load(side, durationS)))
      const cpu = sides.map((side, i) => cpuTimeUs((side.proc as Started).pid) - (cpu0[i] as number))
      const rps = results.map((r) => (r.completed - r.non2xx) / (r.durationUs / 1e6))
      const perUpdate = results.map((r, i) => (cpu[i] as number) / Math.max(1, r.completed - r.non2xx))
      for (const side of sides) await stopProcess(side.proc as Started, 60_000)
      ratios.rps.push((rps[0] as number) / (rps[1] as number))
      ratios.cpu.push((perUpdate[0] as number) / (perUpdate[1] as number))
      console.log(`r${round}: A ${Math.round(rps[0] as number)} updates/s ${(perUpdate[0] as number).toFixed(1)} us/upd | B ${Math.round(rps[1] as number)} updates/s ${(perUpdate[1] as number).toFixed(1)} us/upd | ratio updates/s ${(ratios.rps.at(-1) as number).toFixed(3)} CPU/upd ${(ratios.cpu.at(-1) as number).toFixed(3)}`)
      await sleep(500)
    }
  } finally {
    killStarted()
  }
  const sorted = [...ratios.cpu].sort((a, b) => a - b)
  console.log(`\nA / B over ${rounds} rounds: updates/s x${median(ratios.rps).toFixed(3)}, CPU per update x${median(ratios.cpu).toFixed(3)} (median; CPU ratio range ${sorted[0]?.toFixed(3)}-${sorted.at(-1)?.toFixed(3)})`)
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    killStarted()
    process.exit(130)
  })
}

await main()
