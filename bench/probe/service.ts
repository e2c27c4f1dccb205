// The service as the probe runs it: src/server.ts compiled (dist/bench/src/server.js), configured by
// its environment alone as in production, listening on 127.0.0.1, with its Bot API on 127.0.0.1
// (the emulator, or its TLS front). Its log goes to a file whose lines the checks count; what it
// holds open is read from /proc.
import { randomBytes } from 'node:crypto'
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort, startNode, stopProcess, waitForHttp, type Started } from '../lib/proc.js'

const SERVER = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'server.js')

let nextBot = 1

export interface ServiceOptions {
  /** Names the log file. */
  name: string
  logDir: string
  apiRoot: string
  /** HTTP_MAX_CONNECTIONS, TELEGRAM_MAX_BACKLOG and the like. */
  env?: Record<string, string>
  /** A certificate for the service process alone to trust (an https stand-in). */
  caFile?: string
}

export interface ProbeService {
  url: string
  pid: number
  /** A bot of its own at the emulator, so scripts and calls never mix between services. */
  token: string
  /** Never printed: the checks send it, the service's logs scrub it. */
  secret: string
  adminToken: string
  started: Started
  /** The log's lines whose msg contains `text`, parsed. */
  logLines: (text: string) => Array<Record<string, unknown>>
  /** SIGTERM, then its exit code (SIGKILL after 15 s). */
  stop: () => Promise<number | null>
}

export async function startProbeService (options: ServiceOptions): Promise<ProbeService> {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  // Fake, shaped as the emulator checks a token: a new bot id per service.
  const token = `12345${String(6789 + nextBot++)}:TEST-probe-${randomBytes(12).toString('hex')}`
  const secret = randomBytes(24).toString('base64url')
  const adminToken = randomBytes(24).toString('hex')
  const logFile = join(options.logDir, `${options.name}.log`)
  // The runner's own TELEGRAM_* settings and CA list must not leak into the service.
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TELEGRAM_') && k !== 'NODE_EXTRA_CA_CERTS'))
  const env: NodeJS.ProcessEnv = {
    ...inherited,
    PORT: String(port),
    HOST: '127.0.0.1',
    TELEGRAM_BOT_TOKEN: token,
    TELEGRAM_WEBHOOK_SECRET: secret,
    TELEGRAM_ADMIN_TOKEN: adminToken,
    // A local Bot API server allows http:// on any port: were the emulator ever to deliver, it
    // would deliver here, on loopback.
    TELEGRAM_WEBHOOK_URL: `${url}/telegram/webhook`,
    TELEGRAM_API_ROOT: options.apiRoot,
    LOG_LEVEL: 'info',
    ...(options.caFile !== undefined && { NODE_EXTRA_CA_CERTS: options.caFile }),
    ...options.env
  }
  const started = startNode(SERVER, env, logFile)
  await waitForHttp(`${url}/telegram/webhook-info`, started, 20_000)
  const logLines = (text: string): Array<Record<string, unknown>> => readFileSync(logFile, 'utf8').split('\n')
    .filter((line) => line.startsWith('{') && line.includes(text))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((entry) => typeof entry.msg === 'string' && entry.msg.includes(text))
  return { url, pid: started.pid, token, secret, adminToken, started, logLines, stop: async () => await stopProcess(started, 15_000) }
}

/** Descriptors the process holds open now (sockets, files, pipes). */
export function openDescriptors (pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length
}

/**
 * The process's established TCP connections to 127.0.0.1:port, counted on its own side: its socket
 * descriptors matched by inode against the kernel's table of IPv4 connections.
 */
export function connectionsTo (pid: number, port: number): number {
  const inodes = new Set<string>()
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1]
      if (inode !== undefined) inodes.add(inode)
    } catch {} // closed while we looked
  }
  let count = 0
  for (const line of readFileSync(`/proc/${pid}/net/tcp`, 'utf8').split('\n').slice(1)) {
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
    const fields = line.trim().split(/\s+/)
    const remotePort = parseInt(fields[2]?.split(':')[1] ?? '', 16)
    if (fields[3] === '01' && remotePort === port && inodes.has(fields[9] ?? '')) count++
  }
  return count
}
