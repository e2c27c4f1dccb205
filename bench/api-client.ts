// CPU per Bot API call: Telegraf's own client (node-fetch) against the one this service installs
// (src/telegram/api-client.ts), each making the same sendMessage calls to the bench's Bot API stub,
// which runs as its own process (on CPU 1 when pinning works, this process on CPU 0). Rounds
// alternate which client goes first; each round gives a ratio, and the median is printed.
//
//   node dist/bench/bench/api-client.js [--calls N] [--concurrency N] [--rounds N] [--latency MS]
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Telegraf } from 'telegraf'
import { createTelegraf } from '../src/bot/index.js'
import { newLogDir } from './lib/paths.js'
import { canPin, freePort, killStartedOnSignals, pinSelf, startNode, stopProcess, waitForHttp } from './lib/proc.js'
import { median } from './lib/report.js'
import { TOKEN } from './lib/settings.js'

const { values } = parseArgs({ options: { calls: { type: 'string' }, concurrency: { type: 'string' }, rounds: { type: 'string' }, latency: { type: 'string' } } })
const CALLS = Number(values.calls ?? 10_000)
const CONCURRENCY = Number(values.concurrency ?? 100)
const ROUNDS = Number(values.rounds ?? 6)

type Telegram = Telegraf['telegram']

/** CPU time of this process per call, in µs, for CALLS sendMessage calls, CONCURRENCY at a time. */
async function cpuPerCall (telegram: Telegram): Promise<number> {
  let next = 0
  const before = process.cpuUsage()
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < CALLS) {
      const n = next++
      await telegram.sendMessage(1000 + (n % 1000), `handled ${n}`)
    }
  }))
  const used = process.cpuUsage(before)
  return (used.user + used.system) / CALLS
}

async function main (): Promise<void> {
  const pin = canPin()
  if (pin) pinSelf(0)
  const port = await freePort()
  const stubScript = fileURLToPath(new URL('./bot-api-stub.js', import.meta.url))
  const stub = startNode(stubScript, { ...process.env, PORT: String(port), STUB_LATENCY_MS: values.latency ?? '5' }, join(newLogDir('api-client'), 'bot-api-stub.log'), pin ? 1 : undefined)
  try {
    const apiRoot = `http://127.0.0.1:${port}`
    await waitForHttp(apiRoot, stub, 10_000)
    const clients: Record<string, Telegram> = {
      telegraf: new Telegraf(TOKEN, { telegram: { apiRoot, webhookReply: false } }).telegram,
      service: createTelegraf(TOKEN, apiRoot).telegram
    }
    for (const telegram of Object.values(clients)) await cpuPerCall(telegram) // warm-up
    const ratios: number[] = []
    for (let round = 1; round <= ROUNDS; round++) {
      const order = round % 2 === 0 ? ['service', 'telegraf'] : ['telegraf', 'service']
      const us: Record<string, number> = {}
      for (const name of order) us[name] = await cpuPerCall(clients[name] as Telegram)
      const ratio = (us.service ?? NaN) / (us.telegraf ?? NaN)
      ratios.push(ratio)
      console.log(`r${round}: Telegraf's client ${us.telegraf?.toFixed(1)} us/call, this service's ${us.service?.toFixed(1)} us/call, ratio ${ratio.toFixed(3)}`)
    }
    console.log(`\nCPU per sendMessage, this service's client / Telegraf's, median of ${ROUNDS} rounds: x${median(ratios).toFixed(3)} (range ${Math.min(...ratios).toFixed(3)}-${Math.max(...ratios).toFixed(3)})${pin ? '' : ' (not pinned)'}`)
  } finally {
    await stopProcess(stub, 5000)
  }
}

killStartedOnSignals()
await main()
