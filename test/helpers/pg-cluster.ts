// A throwaway PostgreSQL cluster on 127.0.0.1: its own data directory, a port the OS picked, trust
// auth, durability off. Shared by the tap helper (test/helpers/postgres.ts) and the job-queue bench
// (bench/queues.ts), so neither needs a server set up beforehand nor touches the machine's own.
import { execFile } from 'node:child_process'
import { appendFileSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'

export interface PgCluster {
  /** postgres://postgres@127.0.0.1:PORT/postgres */
  url: string
  port: number
  dataDir: string
  /** A new, empty database; its URL. */
  createDatabase: () => Promise<string>
  /** `pg_ctl stop -m fast`: open sessions are ended, the data kept. */
  stop: () => Promise<void>
  start: () => Promise<void>
  restart: () => Promise<void>
  /** Stops the server at once (immediate mode) and removes the data directory. Safe to call twice. */
  destroy: () => Promise<void>
}

export interface PgClusterOptions {
  /** Where initdb, pg_ctl and postgres are; default: findPgBin(). */
  bin?: string
  /** postgresql.conf settings on top of the defaults below, e.g. { shared_buffers: "'256MB'" }. */
  settings?: Record<string, string>
}

/** Why no cluster: no binaries, or they would not start one (the message says which, with the log's tail). */
export class PgUnavailableError extends Error {
  override name = 'PgUnavailableError'
}

export const BINARIES_MISSING = 'PostgreSQL server binaries not found (apt-get install postgresql)'

const TOOLS = ['initdb', 'pg_ctl', 'postgres']

// Durability is worth nothing for data thrown away after the run, and fsync dominates a small
// transaction's cost on a shared disk. 200 connections: a bench's pools plus workers plus a test's own.
const DEFAULT_SETTINGS: Record<string, string> = {
  listen_addresses: "'127.0.0.1'",
  // No unix socket: nothing else can reach the cluster, and no lock file in /var/run or /tmp.
  unix_socket_directories: "''",
  fsync: 'off',
  full_page_writes: 'off',
  max_connections: '200',
  shared_buffers: "'64MB'"
}

const INITDB_TIMEOUT_MS = 60_000
const PG_CTL_WAIT_S = 30
const CLIENT_TIMEOUT_MS = 10_000

/** PG_BIN when set, else the highest /usr/lib/postgresql/<version>/bin holding all three tools. */
export function findPgBin (env: NodeJS.ProcessEnv = process.env, libDir = '/usr/lib/postgresql'): string | undefined {
  const hasTools = (dir: string): boolean => TOOLS.every((tool) => existsSync(join(dir, tool)))
  if (env.PG_BIN !== undefined && env.PG_BIN !== '') return hasTools(env.PG_BIN) ? env.PG_BIN : undefined
  let versions: string[]
  try {
    versions = readdirSync(libDir)
  } catch {
    return undefined
  }
  const byVersionDescending = versions
    .filter((v) => /^\d+(\.\d+)?$/.test(v))
    .sort((a, b) => Number(b) - Number(a))
  for (const version of byVersionDescending) {
    const dir = join(libDir, version, 'bin')
    if (hasTools(dir)) return dir
  }
  return undefined
}

/** A port nothing listens on right now. Another process may take it before postgres binds; start() retries then. */
async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

interface Owner { uid: number, gid: number }

/** initdb and postgres refuse to run as root; as root they run as the `postgres` user. */
async function postgresUser (): Promise<Owner> {
  const { stdout } = await run(undefined, 'getent', ['passwd', 'postgres'], 10_000, tmpdir())
    .catch(() => { throw new PgUnavailableError('running as root, and there is no postgres user to run initdb as (apt-get install postgresql)') })
  const [, , uid, gid] = stdout.trim().split(':')
  return { uid: Number(uid), gid: Number(gid) }
}

interface Output { stdout: string, stderr: string }

/** Runs a command with a deadline, as the postgres user when `asUser` is given. */
async function run (asUser: Owner | undefined, command: string, args: string[], timeoutMs: number, cwd: string): Promise<Output> {
  const [file, argv] = asUser === undefined ? [command, args] : ['runuser', ['-u', 'postgres', '--', command, ...args]]
  return await new Promise((resolve, reject) => {
    // cwd: a directory the postgres user can enter; the tools fail when they cannot read theirs.
    execFile(file, argv, { cwd, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err === null) resolve({ stdout, stderr })
      else {
        const why = err.killed ? `timed out after ${timeoutMs} ms` : `exited with ${String(err.code)}`
        reject(new Error(`${command} ${why}: ${(stderr || stdout).trim()}`))
      }
    })
  })
}

function tail (file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
  } catch {
    return '(no log)'
  }
}

/** The postmaster's pid from postmaster.pid, or undefined when the server is not running. */
function postmasterPid (dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0])
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}

/** Whether `pid` has exited (a zombie waiting for its reaper counts as exited). */
function hasExited (pid: number): boolean {
  try {
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0]
    return state === 'Z' || state === 'X'
  } catch {
    try {
      process.kill(pid, 0)
      return false
    } catch {
      return true
    }
  }
}

async function exited (pid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!hasExited(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
}

// Clusters of this process not yet destroyed. If the process exits without its teardown (an uncaught
// error, process.exit), they are stopped here, synchronously: SIGQUIT is postgres's immediate shutdown.
const live = new Set<string>()
process.once('exit', () => {
  for (const dataDir of live) {
    const pid = postmasterPid(dataDir)
    if (pid !== undefined) try { process.kill(pid, 'SIGQUIT') } catch {}
    try { rmSync(dataDir, { recursive: true, force: true }) } catch {}
  }
})

/** initdb, then start on a free port. Throws PgUnavailableError when either is not possible. */
export async function startPgCluster (options: PgClusterOptions = {}): Promise<PgCluster> {
  const bin = options.bin ?? findPgBin()
  if (bin === undefined) throw new PgUnavailableError(BINARIES_MISSING)
  const asUser = process.getuid?.() === 0 ? await postgresUser() : undefined
  const dataDir = mkdtempSync(join(tmpdir(), 'ingress-pg-'))
  live.add(dataDir)
  const logFile = join(dataDir, 'server.log')
  const tool = (name: string): string => join(bin, name)
  const pgCtl = async (args: string[]): Promise<Output> =>
    await run(asUser, tool('pg_ctl'), ['-D', dataDir, '-w', '-t', String(PG_CTL_WAIT_S), ...args], (PG_CTL_WAIT_S + 10) * 1000, tmpdir())

  let port = 0
  let destroyed = false
  const start = async (): Promise<void> => {
    try {
      await pgCtl(['-l', logFile, '-o', `-p ${port}`, 'start'])
    } catch (err) {
      throw new PgUnavailableError(`PostgreSQL did not start: ${(err as Error).message}\n${logFile}:\n${tail(logFile, 20)}`)
    }
  }
  const stop = async (mode: 'fast' | 'immediate'): Promise<void> => { await pgCtl(['-m', mode, 'stop']) }
  const destroy = async (): Promise<void> => {
    if (destroyed) return
    destroyed = true
    const pid = postmasterPid(dataDir)
    if (pid !== undefined) {
      await stop('immediate').catch(() => {})
      // pg_ctl returns once postmaster.pid is gone, a moment before the process itself is.
      await exited(pid, 5000)
    }
    rmSync(dataDir, { recursive: true, force: true })
    live.delete(dataDir)
  }

  try {
    if (asUser !== undefined) chownSync(dataDir, asUser.uid, asUser.gid)
    try {
      // -E/--locale: the same collation whatever the machine's locale; --no-sync: nothing here must survive a crash.
      await run(asUser, tool('initdb'), ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions'],
        INITDB_TIMEOUT_MS, tmpdir())
    } catch (err) {
      throw new PgUnavailableError(`initdb failed: ${(err as Error).message}`)
    }
    const settings = { ...DEFAULT_SETTINGS, ...options.settings }
    appendFileSync(join(dataDir, 'postgresql.conf'),
      '\n# test/helpers/pg-cluster.ts\n' + Object.entries(settings).map(([k, v]) => `${k} = ${v}\n`).join(''))
    // The port is free when asked and may be taken by the time postgres binds it (tests run in parallel).
    for (let attempt = 1; ; attempt++) {
      port = await freePort()
      try {
        await start()
        break
      } catch (err) {
        if (attempt === 3 || !/could not bind|Address already in use/.test(tail(logFile, 20))) throw err
      }
    }
  } catch (err) {
    await destroy()
    throw err
  }

  const url = `postgres://postgres@127.0.0.1:${port}/postgres`
  let databases = 0
  return {
    url,
    port,
    dataDir,
    createDatabase: async () => {
      const name = `test_${++databases}`
      const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: CLIENT_TIMEOUT_MS })
      await client.connect()
      try {
        await client.query(`CREATE DATABASE ${name}`)
      } finally {
        await client.end()
      }
      return `postgres://postgres@127.0.0.1:${port}/${name}`
    },
    stop: async () => { await stop('fast') },
    start,
    restart: async () => {
      await stop('fast')
      await start()
    },
    destroy
  }
}
