// Runs wrk (Debian package `wrk`) with bench/load/wrk-post.lua and reads the one line its done()
// prints. wrk is the load generator of the full benchmark: one C thread keeps 100 connections busy
// with far less CPU than any Node client, so the server, not the generator, sets the pace.
import { execFile } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { LoadResult } from './node-load.js'
import { luaTemplates, type Sequence } from './updates.js'

const run = promisify(execFile)
let runs = 0

export interface WrkOptions {
  url: string
  secret: string
  connections: number
  durationS: number
  sequence: Sequence
  /** Runs wrk under `taskset -c <cpu>` when set. */
  cpu?: number
  /** The bench folder (where load/wrk-post.lua is) and a scratch folder for the templates. */
  benchDir: string
  scratchDir: string
}

export async function hasWrk (): Promise<boolean> {
  try {
    await run('wrk', ['--version'])
    return true
  } catch (err) {
    // wrk --version exits 1 after printing its version.
    return typeof (err as { stdout?: unknown }).stdout === 'string' && String((err as { stdout: string }).stdout).includes('wrk')
  }
}

interface WrkLine {
  sent: number
  completed: number
  duration_us: number
  non2xx: number
  connect_errors: number
  read_errors: number
  write_errors: number
  timeouts: number
  p50_us: number
  p90_us: number
  p99_us: number
  max_us: number
  mean_us: number
}

export async function runWrk (options: WrkOptions): Promise<Omit<LoadResult, 'ackedIds'>> {
  if (!Number.isInteger(options.durationS) || options.durationS < 1) throw new Error(`wrk takes whole seconds, at least 1 (got ${options.durationS})`)
  // One file per run: two wrk runs may start at once (bench/ab.js).
  const templates = join(options.scratchDir, `wrk-templates.${++runs}.lua`)
  writeFileSync(templates, luaTemplates())
  const wrkArgs = ['-t1', `-c${options.connections}`, `-d${options.durationS}s`, '--timeout', '10s', '-s', join(options.benchDir, 'load', 'wrk-post.lua'), options.url]
  const [cmd, args] = options.cpu === undefined ? ['wrk', wrkArgs] : ['taskset', ['-c', String(options.cpu), 'wrk', ...wrkArgs]]
  const { stdout } = await run(cmd, args, {
    env: {
      ...process.env,
      BENCH_TEMPLATES: templates,
      BENCH_FIRST_UPDATE_ID: String(options.sequence.firstUpdateId),
      BENCH_FIRST_USER_ID: String(options.sequence.firstUserId),
      BENCH_USERS: String(options.sequence.users),
      TELEGRAM_WEBHOOK_SECRET: options.secret
    },
    timeout: (options.durationS + 30) * 1000,
    maxBuffer: 1024 * 1024
  })
  const line = stdout.split('\n').find((l) => l.startsWith('BENCH_WRK '))
  if (line === undefined) throw new Error(`wrk printed no result line:\n${stdout}`)
  const w = JSON.parse(line.slice('BENCH_WRK '.length)) as WrkLine
  return {
    sent: w.sent,
    completed: w.completed,
    non2xx: w.non2xx,
    errors: w.connect_errors + w.read_errors + w.write_errors + w.timeouts,
    durationUs: w.duration_us,
    p50Us: w.p50_us,
    p90Us: w.p90_us,
    p99Us: w.p99_us,
    maxUs: w.max_us,
    meanUs: w.mean_us,
    statuses: {}
  }
}
