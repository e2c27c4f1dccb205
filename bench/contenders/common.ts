// What every contender process shares: its settings from the environment (set by the runner), the
// bot behaviours under test, and the stop protocol: on SIGTERM finish the taken work, then write
// what was handled and what it cost (CPU, peak RSS) to BENCH_STATS_FILE and exit.
import { writeFileSync } from 'node:fs'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import type { Telegraf } from 'telegraf'
import { cpuWork } from '../lib/cpu-work.js'

function required (name: string): string {
  const value = process.env[name]
  if (value === undefined || value === '') throw new Error(`${name} must be set (the bench runner sets it)`)
  return value
}

export const PORT = Number(process.env.PORT ?? 18080)
export const SECRET = (): string => required('TELEGRAM_WEBHOOK_SECRET')
export const TOKEN = (): string => required('TELEGRAM_BOT_TOKEN')
export const API_ROOT = (): string => required('TELEGRAM_API_ROOT')

// How late the event loop ran, over the process's life: tells a stall inside the server (GC, a long
// synchronous task) from one outside it (the machine, the load generator).
const loopDelay = monitorEventLoopDelay({ resolution: 10 })
loopDelay.enable()

/** Updates the bot has finished with. */
export const counter = { handled: 0 }

export type BenchBot = 'noop' | 'slow' | 'cpu'

export function benchBot (): BenchBot {
  const bot = process.env.BENCH_BOT ?? 'noop'
  if (bot !== 'noop' && bot !== 'slow' && bot !== 'cpu') throw new Error(`BENCH_BOT must be noop, slow or cpu, not ${bot}`)
  return bot
}

/** The cpu bot's CPU time in its handlers, in microseconds (process-wide, so GC threads count too). */
export const handlerCpu = { us: 0 }

/**
 * The bot under test: does nothing, replies to every update through the Bot API (the stub), or
 * spends about 1 ms of CPU on it (BENCH_CPU_ITERATIONS steps of bench/lib/cpu-work.ts).
 */
export function installBenchBot (bot: Telegraf, kind: BenchBot): void {
  if (kind === 'noop') {
    bot.use(() => { counter.handled++ })
    return
  }
  if (kind === 'cpu') {
    const iterations = Number(required('BENCH_CPU_ITERATIONS'))
    bot.use(() => {
      const t0 = process.cpuUsage()
      cpuWork(iterations)
      const { user, system } = process.cpuUsage(t0)
      handlerCpu.us += user + system
      counter.handled++
    })
    return
  }
  // ctx.reply: sendMessage to the update's chat (the callback query carries its message's chat).
  bot.use(async (ctx) => {
    await ctx.reply(`handled ${ctx.update.update_id}`)
    counter.handled++
  })
}

export interface ContenderStats {
  handled: number
  cpuUserUs: number
  cpuSystemUs: number
  maxRssKb: number
  /** From SIGTERM until the taken work was finished. */
  stopMs: number
  loopDelayP99Ms: number
  loopDelayMaxMs: number
  /** The cpu bot's handlers' CPU time (0 for the other bots). */
  handlerCpuUs: number
  [extra: string]: unknown
}

/** On SIGTERM: `finish` (stop listening, wait for the taken updates), then report and exit. */
export function onStop (finish: () => Promise<Record<string, unknown> | undefined>): void {
  let stopping = false
  process.on('SIGTERM', () => {
    if (stopping) return
    stopping = true
    const started = Date.now()
    finish().then((extra) => {
      const usage = process.resourceUsage()
      const stats: ContenderStats = {
        handled: counter.handled,
        cpuUserUs: usage.userCPUTime,
        cpuSystemUs: usage.systemCPUTime,
        maxRssKb: usage.maxRSS,
        stopMs: Date.now() - started,
        loopDelayP99Ms: loopDelay.percentile(99) / 1e6,
        loopDelayMaxMs: loopDelay.max / 1e6,
        handlerCpuUs: handlerCpu.us,
        ...extra
      }
      const file = process.env.BENCH_STATS_FILE
      if (file !== undefined && file !== '') writeFileSync(file, JSON.stringify(stats))
      process.exit(0)
    }, (err: unknown) => {
      console.error('contender failed to stop:', err)
      process.exit(1)
    })
  })
}
