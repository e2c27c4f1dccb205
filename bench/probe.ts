// The probes of issue 13, kept so their figures can be measured again: the compiled service
// (src/server.ts) on 127.0.0.1 against the Bot API emulator, put through slow clients, a connection
// flood, a hanging Bot API (http:// and https://), 100 000 fuzzed requests and an admin-token brute
// force, each bounded in count and time. One table on stdout; exit 1 when a check failed.
//
//   npm run probe                 everything, about 2.5 minutes
//   npm run probe -- --only fuzz --fuzz 20000
//   node dist/bench/bench/probe.js --help
import { parseArgs } from 'node:util'
import { newLogDir } from './lib/paths.js'
import { killStartedOnSignals } from './lib/proc.js'
import { probeAdmin } from './probe/admin.js'
import { startProbeBotApi, type ProbeBotApi } from './probe/bot-api.js'
import { probeFlood } from './probe/flood.js'
import { probeFuzz } from './probe/fuzz.js'
import { formatSamples, probeHangingApi } from './probe/hanging-api.js'
import { formatRows, type CheckResult, type Row } from './probe/report.js'
import { startProbeService, type ProbeService, type ServiceOptions } from './probe/service.js'
import { probeSlowClients } from './probe/slow-clients.js'

const CHECKS = ['slow', 'flood', 'hang', 'fuzz', 'admin'] as const
type Check = typeof CHECKS[number]

const HELP = `usage: npm run probe -- [options]   (node dist/bench/bench/probe.js [options] once compiled)
  --only a,b            only these checks (${CHECKS.join(', ')})
  --slow N              slow connections, a quarter of each kind (default 1000; above 1000, HTTP_MAX_CONNECTIONS is raised to fit)
  --rate N              real updates/s while they trickle (default 50)
  --flood N             idle connections in the flood (default 1000)
  --max-connections N   the flooded service's HTTP_MAX_CONNECTIONS (default 200)
  --hang K              updates whose reply hangs (default 300)
  --hang-seconds S      how long sendMessage hangs (default 65: past the 60 s silence deadline of an https root)
  --backlog N           TELEGRAM_MAX_BACKLOG of the hanging services (default 200)
  --fuzz N              generated requests, one in 20 with broken framing (default 100000)
  --concurrency N       fuzz requests in flight (default 32)
  --seed N              the fuzz's seed (default: random, printed)
  --admin M             wrong admin tokens from one address (default 200)
  --spoofed N           more, each from a new X-Forwarded-For (default 100)
Everything listens on 127.0.0.1 and is stopped at the end; the services' logs are kept in bench/results/logs/.`

interface Options {
  only: Set<Check>
  slow: number
  rate: number
  flood: number
  maxConnections: number
  hang: number
  hangMs: number
  backlog: number
  fuzz: number
  concurrency: number
  seed: number
  admin: number
  spoofed: number
}

function parseOptions (): Options {
  const { values } = parseArgs({
    options: {
      only: { type: 'string' },
      slow: { type: 'string' },
      rate: { type: 'string' },
      flood: { type: 'string' },
      'max-connections': { type: 'string' },
      hang: { type: 'string' },
      'hang-seconds': { type: 'string' },
      backlog: { type: 'string' },
      fuzz: { type: 'string' },
      concurrency: { type: 'string' },
      seed: { type: 'string' },
      admin: { type: 'string' },
      spoofed: { type: 'string' },
      help: { type: 'boolean', default: false }
    }
  })
  if (values.help === true) {
    console.log(HELP)
    process.exit(0)
  }
  const num = (name: Exclude<keyof typeof values, 'help' | 'only'>, fallback: number, min = 0): number => {
    const value = values[name]
    if (value === undefined) return fallback
    const n = Number(value)
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be a whole number >= ${min}`)
    return n
  }
  const only = values.only !== undefined ? values.only.split(',').map((s) => s.trim()) : [...CHECKS]
  const unknown = only.filter((c) => !(CHECKS as readonly string[]).includes(c))
  if (unknown.length > 0) throw new Error(`unknown check(s): ${unknown.join(', ')} (${CHECKS.join(', ')})`)
  return {
    only: new Set(only as Check[]),
    slow: num('slow', 1000, 4),
    rate: num('rate', 50, 1),
    flood: num('flood', 1000, 1),
    maxConnections: num('max-connections', 200, 1),
    hang: num('hang', 300, 1),
    hangMs: num('hang-seconds', 65, 1) * 1000,
    backlog: num('backlog', 200, 1),
    fuzz: num('fuzz', 100_000, 1),
    concurrency: num('concurrency', 32, 1),
    seed: num('seed', Math.floor(Math.random() * 2 ** 31)),
    admin: num('admin', 200, 1),
    spoofed: num('spoofed', 100)
  }
}

const log = (line: string): void => { process.stderr.write(`probe: ${line}\n`) }

/** Starts a service, runs `check` on it, stops it, then adds the rows only its stop makes readable. */
async function withService<T extends CheckResult> (stops: Row[], options: ServiceOptions, check: (service: ProbeService) => Promise<T>): Promise<T> {
  const service = await startProbeService(options)
  let result: T
  try {
    result = await check(service)
  } finally {
    const code = await service.stop()
    stops.push({ check: 'every service', what: `${options.name}: SIGTERM`, measured: `exit code ${String(code)}`, expected: 'exit code 0', ok: code === 0 })
  }
  return { ...result, rows: [...result.rows, ...(result.afterStop?.() ?? [])] }
}

async function run (options: Options, api: ProbeBotApi, logDir: string): Promise<{ rows: Row[], notes: string[] }> {
  const rows: Row[] = []
  const stops: Row[] = []
  const notes: string[] = []
  const base = { logDir, apiRoot: api.httpRoot }
  if (options.only.has('admin')) {
    log(`admin brute force: ${options.admin} + ${options.spoofed} guesses`)
    rows.push(...(await withService(stops, { ...base, name: 'admin' }, async (service) => await probeAdmin({ service, guesses: options.admin, spoofed: options.spoofed }))).rows)
  }
  if (options.only.has('flood')) {
    log(`connection flood: ${options.flood} connections against HTTP_MAX_CONNECTIONS=${options.maxConnections}`)
    const env = { HTTP_MAX_CONNECTIONS: String(options.maxConnections) }
    rows.push(...(await withService(stops, { ...base, name: 'flood', env }, async (service) => await probeFlood({ service, maxConnections: options.maxConnections, connections: options.flood }))).rows)
  }
  if (options.only.has('fuzz')) {
    log(`fuzz: ${options.fuzz} requests, seed ${options.seed}`)
    const fuzz = await withService(stops, { ...base, name: 'fuzz' }, async (service) => await probeFuzz({ service, requests: options.fuzz, concurrency: options.concurrency, seed: options.seed }))
    rows.push(...fuzz.rows)
    if (fuzz.examples.length > 0) notes.push(['fuzz: the first answers that broke a rule', ...fuzz.examples.map((e) => `  ${e}`)].join('\n'))
  }
  if (options.only.has('slow')) {
    log(`slow clients: ${options.slow} connections at 1 byte/s, ${options.rate} real updates/s (about 40 s)`)
    const env = { HTTP_MAX_CONNECTIONS: String(Math.max(1024, options.slow + 100)) }
    rows.push(...(await withService(stops, { ...base, name: 'slow-clients', env }, async (service) => ({ rows: await probeSlowClients({ service, connections: options.slow, rate: options.rate }) }))).rows)
  }
  if (options.only.has('hang')) {
    const schemes = api.https === undefined ? ['http' as const] : ['http' as const, 'https' as const]
    log(`hanging Bot API (${schemes.join(' and ')}, side by side): ${options.hang} replies hanging ${options.hangMs / 1000} s`)
    if (api.https === undefined) notes.push('hanging Bot API: no https run (openssl is not installed), so the socket bound and the silence deadline were not measured')
    const env = { TELEGRAM_MAX_BACKLOG: String(options.backlog) }
    const results = await Promise.all(schemes.map(async (scheme) => {
      const https = scheme === 'https' ? api.https : undefined
      const serviceOptions = { ...base, name: `hanging-${scheme}`, env, ...(https !== undefined && { apiRoot: https.root, caFile: https.caFile }) }
      const result = await withService(stops, serviceOptions, async (service) => await probeHangingApi({
        service,
        control: api.control(service.token),
        apiPort: Number(new URL(https?.root ?? api.httpRoot).port),
        scheme,
        updates: options.hang,
        backlog: options.backlog,
        holdMs: options.hangMs,
        sampleMs: 5000
      }))
      return { scheme, ...result }
    }))
    for (const r of results) {
      rows.push(...r.rows)
      notes.push(formatSamples(r.scheme, r.samples))
    }
  }
  return { rows: [...rows, ...stops], notes }
}

async function main (): Promise<void> {
  const options = parseOptions()
  killStartedOnSignals()
  const logDir = newLogDir('probe')
  log(`services' logs in ${logDir}`)
  const api = await startProbeBotApi()
  const started = Date.now()
  let result: Awaited<ReturnType<typeof run>>
  try {
    result = await run(options, api, logDir)
  } finally {
    await api.close()
  }
  console.log(formatRows(result.rows))
  for (const note of result.notes) console.log(`\n${note}`)
  const failed = result.rows.filter((r) => r.ok === false)
  console.log(`\n${failed.length === 0 ? 'all checks held' : `${failed.length} check(s) FAILED`} (${((Date.now() - started) / 1000).toFixed(0)} s)`)
  process.exitCode = failed.length === 0 ? 0 : 1
}

main().catch((err: unknown) => {
  console.error('probe failed:', err)
  process.exit(1)
})
