// What every contender process shares: its settings from the environment (set by the runner), the
// bot behaviours under test, and the stop protocol: on SIGTERM finish the taken work, then write
// what was handled and what it cost (CPU, peak RSS) to BENCH_STATS_FILE and exit.
import { writeFileSync } from 'node:fs'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import type { Telegraf } from 'telegraf'

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

export type BenchBot = 'noop' | 'slow'

export function benchBot (): BenchBot {
  const bot = process.env.BENCH_BOT ?? 'noop'
  if (bot !== 'noop' && bot !== 'slow') throw new Error(`BENCH_BOT must be noop or slow, not ${bot}`)
  return bot
}

/** The bot under test: does nothing, or replies to every update through the Bot API (the stub). */
export function installBenchBot (bot: Telegraf, kind: BenchBot): void {
  if (kind === 'noop') {
    bot.use(() => { counter.handled++ })
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
