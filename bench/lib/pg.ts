// The durable mode's database in the bench (issue 14): one throwaway PostgreSQL cluster per run
// (test/helpers/pg-cluster.ts) on loopback, a fresh database per measurement, the CPU time of all
// its processes, the CPUs they may run on, and what a measurement left in the tables.
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import pg from 'pg'
import { SCHEMA } from '../../src/durable/store.js'
import { BINARIES_MISSING, findPgBin, startPgCluster, type PgCluster } from '../../test/helpers/pg-cluster.js'

export interface BenchPgOptions {
  /** fsync and full_page_writes on (a server that survives a power cut), or both off. */
  fsync: boolean
}

/** What one measurement's database holds at the end. */
export interface DbCounts {
  rows: number
  pending: number
  done: number
  failed: number
  /** Updates whose handler ran more than once. */
  retried: number
  /** Done updates that finished before an earlier update of their chat, or while one was still pending. */
  outOfOrder: number
  /** graphile-worker's jobs left (pending or locked). */
  jobs: number
}

/**
 * What ANALYZE looks at: graphile-worker's job tables and ours. Until its jobs table has statistics,
 * graphile-worker's add_job (in every store()) plans an UPDATE as a scan of the whole table, and a
 * session keeps that plan: each store() then costs more as the backlog grows. A running database
 * gets the statistics from autovacuum within its naptime (a minute) of the table growing; a fresh
 * database per measurement would not, so the bench runs ANALYZE where autovacuum would have.
 */
export const ANALYZED_TABLES = ['graphile_worker._private_jobs', 'graphile_worker._private_job_queues', `${SCHEMA}.updates`]

export interface BenchDatabase {
  url: string
  /** ANALYZE of ANALYZED_TABLES; sessions plan their statements again afterwards. */
  analyze: () => Promise<void>
  counts: () => Promise<DbCounts>
  /** Updates stored, and those not pending any more. */
  stored: () => Promise<number>
  finished: () => Promise<number>
  /** The epoch ms of the last update marked done or failed. */
  lastFinishedAt: () => Promise<number>
  ids: () => Promise<number[]>
  drop: () => Promise<void>
}

const CLIENT_TIMEOUT_MS = 10_000

async function withClient<T> (url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: CLIENT_TIMEOUT_MS, query_timeout: 60_000 })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

/** The postmaster's pid (first line of postmaster.pid). */
function postmasterPid (dataDir: string): number {
  const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0])
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`no postmaster pid in ${dataDir}`)
  return pid
}

/** Fields of /proc/<pid>/stat after the command name; [1] is the parent's pid, [11]/[12] utime/stime, [13]/[14] of reaped children. */
function statFields (pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  } catch {
    return undefined // exited meanwhile
  }
}

function childrenOf (parent: number): number[] {
  const children: number[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    const fields = statFields(Number(name))
    if (fields !== undefined && Number(fields[1]) === parent) children.push(Number(name))
  }
  return children
}

let ticks: number | undefined
function ticksPerSecond (): number {
  ticks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  return ticks
}

export class BenchPostgres {
  readonly #cluster: PgCluster
  readonly fsync: boolean
  readonly version: string

  private constructor (cluster: PgCluster, fsync: boolean, version: string) {
    this.#cluster = cluster
    this.fsync = fsync
    this.version = version
  }

  /** Why the durable measurements cannot run here, or undefined when they can (the binaries exist). */
  static unavailable (): string | undefined {
    return findPgBin() === undefined ? `${BINARIES_MISSING}; or set PG_BIN` : undefined
  }

  static async start (options: BenchPgOptions): Promise<BenchPostgres> {
    const onOff = options.fsync ? 'on' : 'off'
    // synchronous_commit stays at its default (on): a commit returns once its WAL is flushed.
    const cluster = await startPgCluster({ settings: { fsync: onOff, full_page_writes: onOff, shared_buffers: "'128MB'" } })
    try {
      const version = await withClient(cluster.url, async (c) => (await c.query<{ server_version: string }>('show server_version')).rows[0]?.server_version ?? '?')
      return new BenchPostgres(cluster, options.fsync, version)
    } catch (err) {
      await cluster.destroy()
      throw err
    }
  }

  get url (): string {
    return this.#cluster.url
  }

  /** Every process of the cluster: the postmaster and its children (backends, WAL writer, checkpointer...). */
  #pids (): number[] {
    const postmaster = postmasterPid(this.#cluster.dataDir)
    return [postmaster, ...childrenOf(postmaster)]
  }

  /**
   * CPU time of the whole cluster so far, in microseconds: the postmaster with the children it has
   * reaped (backends of closed connections), and the living children.
   */
  cpuTimeUs (): number {
    const [postmaster, ...children] = this.#pids()
    let t = 0
    const own = statFields(postmaster as number)
    if (own !== undefined) t += Number(own[11]) + Number(own[12]) + Number(own[13]) + Number(own[14])
    for (const pid of children) {
      const f = statFields(pid)
      if (f !== undefined) t += Number(f[11]) + Number(f[12])
    }
    return t / ticksPerSecond() * 1e6
  }

  /** Restricts the cluster to `cpus` (a taskset list, e.g. "0" or "0-1"); new backends inherit it from the postmaster. */
  pin (cpus: string): void {
    for (const pid of this.#pids()) {
      try {
        execFileSync('taskset', ['-a', '-cp', cpus, String(pid)], { stdio: 'ignore' })
      } catch {
        // exited meanwhile
      }
    }
  }

  /** Writes out what earlier measurements left in memory, so no checkpoint of theirs lands in the next window. */
  async checkpoint (): Promise<void> {
    await withClient(this.url, async (c) => { await c.query('checkpoint') })
  }

  async database (): Promise<BenchDatabase> {
    const url = await this.#cluster.createDatabase()
    const name = new URL(url).pathname.slice(1)
    const one = async <T>(sql: string): Promise<T> => await withClient(url, async (c) => (await c.query(sql)).rows[0] as T)
    return {
      url,
      analyze: async () => { await withClient(url, async (c) => { await c.query(`analyze ${ANALYZED_TABLES.join(', ')}`) }) },
      counts: async () => {
        const row = await one<Record<keyof DbCounts, string>>(
          `select count(*) as rows,
             count(*) filter (where state = 'pending') as pending,
             count(*) filter (where state = 'done') as done,
             count(*) filter (where state = 'failed') as failed,
             count(*) filter (where attempts > 1) as retried,
             count(*) filter (where state = 'done' and (earlier_pending or finished_at < earlier_finished)) as "outOfOrder",
             (select count(*) from graphile_worker.jobs) as jobs
           from (select state, attempts, finished_at,
                   coalesce(bool_or(state = 'pending') over earlier, false) as earlier_pending,
                   max(finished_at) over earlier as earlier_finished
                 from ${SCHEMA}.updates
                 window earlier as (partition by chat_key order by update_id rows between unbounded preceding and 1 preceding)) as u`)
        return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Number(v)])) as unknown as DbCounts
      },
      stored: async () => Number((await one<{ n: string }>(`select count(*) as n from ${SCHEMA}.updates`)).n),
      finished: async () => Number((await one<{ n: string }>(`select count(*) as n from ${SCHEMA}.updates where state <> 'pending'`)).n),
      lastFinishedAt: async () => Number((await one<{ t: number | null }>(`select extract(epoch from max(finished_at)) * 1000 as t from ${SCHEMA}.updates`)).t ?? NaN),
      ids: async () => await withClient(url, async (c) => (await c.query<{ id: string }>(`select update_id as id from ${SCHEMA}.updates`)).rows.map((r) => Number(r.id))),
      drop: async () => { await withClient(this.url, async (c) => { await c.query(`drop database if exists ${name} with (force)`) }) }
    }
  }

  async destroy (): Promise<void> {
    await this.#cluster.destroy()
  }
}
