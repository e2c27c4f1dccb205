// What a sendMessage costs the Bot API stand-in: the bench's stub against the sandbox's emulator,
// answering itself (faithful) or through a script that answers like the stub (scripted). The stub
// shares CPU 1 with wrk in a full run, so a dearer stand-in takes CPU from the load generator; this
// is the measurement behind bench/README.md "Why the bench keeps its own Bot API stub".
// Each stand-in is its own process on CPU 0, wrk on CPU 1; short windows in turn, every stand-in
// once per round, and the ratio to the stub taken within a round (the machine is shared).
//
//   node dist/bench/bench/fake-cost.js [--rounds 10] [--seconds 2] [--connections 32] [--latency 0]
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs, promisify } from 'node:util'
import { startEmulator } from '../sandbox/emulator.js'
import { BENCH_DIR, newLogDir } from './lib/paths.js'
import { canPin, cpuTimeUs, freePort, killStartedOnSignals, peakRssKb, startNode, stopProcess, waitForHttp, type Started } from './lib/proc.js'
import { median } from './lib/report.js'
import { TOKEN } from './lib/settings.js'

const run = promisify(execFile)
const HERE = fileURLToPath(new URL('.', import.meta.url))
// The bench's users (bench/lib/updates.ts UpdateIds): the chats the slow bot replies to.
const FIRST_USER_ID = 500_000_000
const USERS = 1000

type Mode = 'faithful' | 'scripted'

const STAND_INS = [
  { name: 'stub', script: 'bot-api-stub.js', serve: '' },
  { name: 'emulator-faithful', script: 'fake-cost.js', serve: 'faithful' },
  { name: 'emulator-scripted', script: 'fake-cost.js', serve: 'scripted' }
]

/** The emulator as a stand-in process: it knows the bench's chats, so its own sendMessage answers. */
async function serve (mode: Mode, port: number, latencyMs: number): Promise<void> {
  const emulator = await startEmulator({ port, local: true })
  const bot = emulator.control.bot(TOKEN)
  for (let id = FIRST_USER_ID; id < FIRST_USER_ID + USERS; id++) {
    bot.learnChatsOf({ message: { chat: { id, type: 'private', first_name: 'Anna' } } })
  }
  let messageId = 0
  if (mode === 'scripted') {
    bot.script('sendMessage', async (call) => {
      if (latencyMs > 0) await sleep(latencyMs)
      const { chat_id: chatId, text } = call.params
      return { result: { message_id: ++messageId, date: Math.floor(Date.now() / 1000), chat: { id: chatId, type: 'private' }, text } }
    })
  } else if (latencyMs > 0) {
    bot.script('sendMessage', async () => { await sleep(latencyMs) })
  }
  console.log(`emulator (${mode}) listening on ${emulator.url}`)
  process.on('SIGTERM', () => { emulator.close().then(() => process.exit(0), () => process.exit(1)) })
}

interface Window { calls: number, non2xx: number, cpuUs: number }

async function sendMessages (url: string, seconds: number, connections: number, pin: boolean): Promise<Omit<Window, 'cpuUs'>> {
  const wrkArgs = ['-t1', `-c${connections}`, `-d${seconds}s`, '-s', join(BENCH_DIR, 'load', 'wrk-send-message.lua'), url]
  const [cmd, args] = pin ? ['taskset', ['-c', '1', 'wrk', ...wrkArgs]] : ['wrk', wrkArgs]
  const { stdout } = await run(cmd, args, {
    env: { ...process.env, BENCH_TOKEN: TOKEN, BENCH_FIRST_USER_ID: String(FIRST_USER_ID), BENCH_USERS: String(USERS) },
    timeout: (seconds + 30) * 1000
  })
  const line = stdout.split('\n').find((l) => l.startsWith('BENCH_WRK_SEND '))
  if (line === undefined) throw new Error(`wrk printed no result line:\n${stdout}`)
  const [calls = 0, non2xx = 0] = line.split(' ').slice(1).map(Number)
  return { calls, non2xx }
}

async function main (): Promise<void> {
  // The stand-in processes run this file too, told so by the environment (as the stub is).
  const serving = process.env.BENCH_SERVE
  if (serving === 'faithful' || serving === 'scripted') {
    await serve(serving, Number(process.env.PORT), Number(process.env.STUB_LATENCY_MS ?? 0))
    return
  }
  const { values } = parseArgs({ options: { rounds: { type: 'string' }, seconds: { type: 'string' }, connections: { type: 'string' }, latency: { type: 'string' } } })
  const latencyMs = Number(values.latency ?? 0)
  const rounds = Number(values.rounds ?? 10)
  const seconds = Number(values.seconds ?? 2)
  const connections = Number(values.connections ?? 32)
  const pin = canPin()
  const logDir = newLogDir('fake-cost')
  const standIns: Array<{ name: string, started: Started, url: string }> = []
  killStartedOnSignals()
  try {
    for (const { name, script, serve } of STAND_INS) {
      const port = await freePort()
      const env = { ...process.env, PORT: String(port), STUB_LATENCY_MS: String(latencyMs), BENCH_SERVE: serve }
      standIns.push({ name, started: startNode(join(HERE, script), env, join(logDir, `${name}.log`), pin ? 0 : undefined), url: `http://127.0.0.1:${port}` })
    }
    await Promise.all(standIns.map(async ({ started, url }) => { await waitForHttp(url, started, 30_000) }))
    console.log(`fake-cost: ${rounds} rounds of ${seconds} s per stand-in, wrk with ${connections} connections, latency ${latencyMs} ms, ${pin ? 'stand-ins on CPU 0, wrk on CPU 1' : 'not pinned'}`)
    const windows = new Map<string, Window[]>(standIns.map(({ name }) => [name, []]))
    for (let round = 1; round <= rounds; round++) {
      for (const { name, started, url } of standIns) {
        const cpu0 = cpuTimeUs(started.pid)
        const sent = await sendMessages(`${url}/`, seconds, connections, pin)
        windows.get(name)?.push({ ...sent, cpuUs: cpuTimeUs(started.pid) - cpu0 })
      }
    }
    const perCall = (w: Window): number => w.cpuUs / Math.max(1, w.calls)
    const stub = windows.get('stub') ?? []
    console.log('stand-in             CPU us/call  x stub (median of rounds)  range        calls  non-2xx  peak RSS MB')
    for (const { name, started } of standIns) {
      const own = windows.get(name) ?? []
      const ratios = own.map((w, i) => perCall(w) / perCall(stub[i] ?? w))
      console.log(`${name.padEnd(20)} ${median(own.map(perCall)).toFixed(1).padStart(11)}  ${median(ratios).toFixed(2).padStart(25)}  ${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}  ${String(own.reduce((n, w) => n + w.calls, 0)).padStart(9)}  ${String(own.reduce((n, w) => n + w.non2xx, 0)).padStart(7)}  ${(peakRssKb(started.pid) / 1024).toFixed(1).padStart(11)}`)
    }
  } finally {
    for (const { started } of standIns) await stopProcess(started, 5000)
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err)
  process.exit(1)
})
