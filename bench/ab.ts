// A/B of one hot-path change: this build and a baseline build of the same contender run at the same
// time, both pinned to CPU 0 (sharing it), each loaded by its own wrk on CPU 1. Whatever the
// neighbours on a shared machine do to CPU 0 then happens to both at once, so the per-round ratio of
// their CPU time per update shows differences of a few percent that sequential runs drown in noise.
//
//   cp -r dist/bench dist/bench-base     (before the change; then change, npx tsc -p bench/tsconfig.json)
//   node dist/bench/bench/ab.js --baseline dist/bench-base [--rounds 10] [--duration 5] [--bot noop|slow]
//   node dist/bench/bench/ab.js --a contenders/x.js --a-env K=V,K2=V2 --b contenders/y.js   (any two contenders)
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { runPaired, type PairSide } from './lib/paired.js'
import { BENCH_DIR, newLogDir } from './lib/paths.js'
import { canPin, freePort, killStarted, killStartedOnSignals, pinSelf, startNode, waitForHttp } from './lib/proc.js'
import { SECRET } from './lib/settings.js'
import { UpdateIds } from './lib/updates.js'
import { runWrk } from './lib/wrk.js'

const HERE = dirname(fileURLToPath(import.meta.url))

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

async function main (): Promise<void> {
  const pin = canPin()
  if (pin) pinSelf(1)
  else console.warn('warning: cannot pin: the comparison still holds, the absolute figures less so')
  const logDir = newLogDir('ab')
  const stubPort = await freePort()
  const stub = startNode(join(HERE, 'bot-api-stub.js'), { ...process.env, PORT: String(stubPort) }, join(logDir, 'bot-api-stub.log'), pin ? 1 : undefined)
  const stubUrl = `http://127.0.0.1:${stubPort}`
  const bot = { BENCH_BOT: values.bot as string }
  const a: PairSide = { name: 'A', script: resolve(HERE, values.a ?? join('contenders', 'ingress.js')), env: { ...bot, ...envList(values['a-env']) } }
  const b: PairSide = { name: 'B', script: values.b !== undefined ? resolve(HERE, values.b) : resolve(values.baseline as string, 'bench', 'contenders', 'ingress.js'), env: { ...bot, ...envList(values['b-env']) } }
  console.log(`A = ${a.script} ${values['a-env']}\nB = ${b.script} ${values['b-env']}`)
  const ids = new UpdateIds(1000)
  try {
    await waitForHttp(`${stubUrl}/__bench/stats`, stub, 30_000)
    const result = await runPaired({
      a,
      b,
      rounds,
      durationS,
      warmupS: 2,
      stubUrl,
      logDir,
      pin,
      load: async (url, seconds) => {
        return await runWrk({ url, secret: SECRET, connections, durationS: seconds, sequence: ids.next(seconds), benchDir: BENCH_DIR, scratchDir: logDir, ...(pin && { cpu: 1 }) })
      },
      onRound: (r, i) => {
        console.log(`r${i}: A ${Math.round(r.rpsA)} updates/s ${r.cpuUsA.toFixed(1)} us/upd | B ${Math.round(r.rpsB)} updates/s ${r.cpuUsB.toFixed(1)} us/upd | ratio updates/s ${r.rpsRatio.toFixed(3)} CPU/upd ${r.cpuRatio.toFixed(3)}`)
      }
    })
    console.log(`\nA / B over ${rounds} rounds: updates/s x${result.rpsRatio.toFixed(3)}, CPU per update x${result.cpuRatio.toFixed(3)} (median; CPU ratio range ${result.cpuRatioRange[0].toFixed(3)}-${result.cpuRatioRange[1].toFixed(3)})`)
  } finally {
    killStarted()
  }
}

killStartedOnSignals()

await main()
