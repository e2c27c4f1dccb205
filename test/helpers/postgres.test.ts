// test/helpers/postgres.ts and pg-cluster.ts: the throwaway cluster the durable mode's tests stand on.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import t from 'tap'
import { BINARIES_MISSING, findPgBin } from './pg-cluster.js'
import { SKIP_REASON, startPostgres, type PostgresTest } from './postgres.js'

async function connect (url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 })
  // A server that goes away emits 'error' on an idle client; unhandled, it would crash the test.
  client.on('error', () => {})
  await client.connect()
  return client
}

/** Whether `pid` is alive; a zombie (exited, not yet reaped by a container's init) is not. */
function isRunning (pid: number): boolean {
  try {
    return !/^\d+ \(.*\) [ZX]/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return false
  }
}

t.test('a cluster of its own: fresh databases, a restart that ends old sessions, stop and start', async (t) => {
  const cluster = await startPostgres(t)
  if (cluster === undefined) return
  t.equal(cluster.url, `postgres://postgres@127.0.0.1:${cluster.port}/postgres`)

  const first = await cluster.createDatabase()
  const second = await cluster.createDatabase()
  t.not(first, second, 'each call makes a new database')
  const client = await connect(first)
  t.teardown(() => client.end().catch(() => {}))
  t.equal((await client.query('SELECT current_database() AS name')).rows[0].name, new URL(first).pathname.slice(1))
  const settings = await client.query(`SELECT name, setting FROM pg_settings
    WHERE name IN ('listen_addresses', 'fsync', 'full_page_writes', 'max_connections', 'port') ORDER BY name`)
  t.same(settings.rows, [
    { name: 'fsync', setting: 'off' },
    { name: 'full_page_writes', setting: 'off' },
    { name: 'listen_addresses', setting: '127.0.0.1' },
    { name: 'max_connections', setting: '200' },
    { name: 'port', setting: String(cluster.port) }
  ])
  await client.query('CREATE TABLE kept (id int PRIMARY KEY)')
  await client.query('INSERT INTO kept VALUES (1), (2)')

  await cluster.restart()
  await t.rejects(client.query('SELECT 1'), 'a session from before the restart is gone')
  const after = await connect(first)
  t.same((await after.query('SELECT id FROM kept ORDER BY id')).rows, [{ id: 1 }, { id: 2 }], 'the data survived, on the same port')
  await after.end()

  await cluster.stop()
  await t.rejects(connect(first), { code: 'ECONNREFUSED' }, 'nothing listens once stopped')
  await cluster.start()
  const again = await connect(cluster.url)
  t.equal((await again.query('SELECT 1 AS one')).rows[0].one, 1)
  await again.end()
})

t.test('teardown stops the server and removes its data directory', async (t) => {
  let dataDir = ''
  let pid = 0
  let port = 0
  await t.test('a test that uses a cluster', async (t) => {
    const cluster = await startPostgres(t)
    if (cluster === undefined) return
    dataDir = cluster.dataDir
    port = cluster.port
    const client = await connect(cluster.url)
    // The postmaster's pid, not the backend's: the backend exits with its session anyway.
    pid = Number((await client.query("SELECT pg_read_file('postmaster.pid') AS f")).rows[0].f.split('\n')[0])
    await client.end()
    t.ok(existsSync(dataDir))
    t.ok(isRunning(pid), 'the postmaster runs')
  })
  if (dataDir === '') return
  t.notOk(existsSync(dataDir), `${dataDir} is removed`)
  t.notOk(isRunning(pid), `postmaster ${pid} has exited`)
  await t.rejects(connect(`postgres://postgres@127.0.0.1:${port}/postgres`), { code: 'ECONNREFUSED' })
})

interface RecordingTest extends PostgresTest {
  failures: string[]
  comments: string[]
  plans: Array<[number, string | undefined]>
  teardowns: number
}

/** A stand-in for tap's test that records what the helper does with it. */
function recordingTest (): RecordingTest {
  const seen: RecordingTest = {
    failures: [],
    comments: [],
    plans: [],
    teardowns: 0,
    teardown: () => { seen.teardowns++ },
    comment: (...message) => { seen.comments.push(message.join(' ')) },
    fail: (message) => { seen.failures.push(message) },
    plan: (n, comment) => { seen.plans.push([n, comment]) }
  }
  return seen
}

/** Runs `fn` with PG_BIN and CI set as given, restoring both after. */
async function withEnv<T> (env: { PG_BIN: string, CI: string | undefined }, fn: () => Promise<T>): Promise<T> {
  const saved = { PG_BIN: process.env.PG_BIN, CI: process.env.CI }
  const set = (name: 'PG_BIN' | 'CI', value: string | undefined): void => {
    if (value === undefined) delete process.env[name]
    else process.env[name] = value
  }
  set('PG_BIN', env.PG_BIN)
  set('CI', env.CI)
  try {
    return await fn()
  } finally {
    set('PG_BIN', saved.PG_BIN)
    set('CI', saved.CI)
  }
}

t.test('without the server binaries: skipped with the way to install them, failed in CI', async (t) => {
  const empty = mkdtempSync(join(tmpdir(), 'ingress-nopg-'))
  t.teardown(() => rmSync(empty, { recursive: true, force: true }))

  const local = recordingTest()
  t.equal(await withEnv({ PG_BIN: empty, CI: undefined }, async () => await startPostgres(local)), undefined)
  t.same(local.plans, [[0, SKIP_REASON]], 'marked skipped, saying what to install')
  t.same(local.failures, [])
  t.match(local.comments, [BINARIES_MISSING])

  const ci = recordingTest()
  t.equal(await withEnv({ PG_BIN: empty, CI: 'true' }, async () => await startPostgres(ci)), undefined)
  t.same(ci.plans, [], 'not skipped in CI')
  t.match(ci.failures, [new RegExp(`^${BINARIES_MISSING.replace(/[()]/g, '\\$&')}`)])
  t.equal(ci.teardowns, 0, 'nothing to tear down')
})

t.test('binaries that cannot make a cluster: the cause is reported, nothing is left behind', async (t) => {
  const bin = mkdtempSync(join(tmpdir(), 'ingress-badpg-'))
  t.teardown(() => rmSync(bin, { recursive: true, force: true }))
  // The postgres user (when the helper runs as root) must be able to run them.
  chmodSync(bin, 0o755)
  for (const tool of ['initdb', 'pg_ctl', 'postgres']) {
    writeFileSync(join(bin, tool), `#!/bin/sh\necho "${tool}: this build is broken" >&2\nexit 1\n`, { mode: 0o755 })
  }
  const before = new Set(listTmp())
  const ci = recordingTest()
  t.equal(await withEnv({ PG_BIN: bin, CI: 'true' }, async () => await startPostgres(ci)), undefined)
  t.match(ci.failures, [/initdb failed: .*initdb: this build is broken/])
  t.same(listTmp().filter((name) => !before.has(name)), [], 'its data directory is removed')
})

function listTmp (): string[] {
  return readdirNames(tmpdir()).filter((name) => name.startsWith('ingress-pg-'))
}

function readdirNames (dir: string): string[] {
  try {
    return readdirSync(dir)
  } catch {
    return []
  }
}

t.test('PG_BIN wins; otherwise the highest version that has initdb, pg_ctl and postgres', async (t) => {
  const lib = mkdtempSync(join(tmpdir(), 'ingress-pglib-'))
  t.teardown(() => rmSync(lib, { recursive: true, force: true }))
  const install = (version: string, tools: string[]): string => {
    const dir = join(lib, version, 'bin')
    mkdirSync(dir, { recursive: true })
    for (const tool of tools) writeFileSync(join(dir, tool), '')
    return dir
  }
  install('9.6', ['initdb', 'pg_ctl', 'postgres'])
  const v15 = install('15', ['initdb', 'pg_ctl', 'postgres'])
  install('16', ['pg_ctl', 'postgres']) // a client-only or half-removed install
  t.equal(findPgBin({}, lib), v15)
  const v17 = install('17', ['initdb', 'pg_ctl', 'postgres'])
  t.equal(findPgBin({}, lib), v17, '17 sorts above 9.6 and 15 as a number')
  t.equal(findPgBin({ PG_BIN: v15 }, lib), v15)
  t.equal(findPgBin({ PG_BIN: join(lib, '16', 'bin') }, lib), undefined, 'a PG_BIN without initdb is no PostgreSQL')
  t.equal(findPgBin({}, join(lib, 'none')), undefined)
})
