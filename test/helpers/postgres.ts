// A throwaway PostgreSQL cluster per test file (test/helpers/pg-cluster.ts does the work), stopped and
// removed on teardown. Callers: `const pg = await startPostgres(t); if (pg === undefined) return`.
import { PgUnavailableError, startPgCluster, type PgCluster } from './pg-cluster.js'

export type TestPostgres = Omit<PgCluster, 'destroy'>

/** What the helper needs of a tap test; a structural type so its own test can hand it a stand-in. */
export interface PostgresTest {
  teardown: (fn: () => unknown) => void
  comment: (...message: unknown[]) => void
  fail: (message: string) => unknown
  plan: (n: number, comment?: string) => void
}

export const SKIP_REASON = 'needs PostgreSQL: apt-get install postgresql, or set PG_BIN'

/**
 * Starts a cluster, or says why not. In CI (CI set) a missing or broken PostgreSQL fails the test:
 * .ci/run installs it, and a silent skip would hide the durable mode's tests. Elsewhere the test is
 * marked skipped (plan 0), so call this before any assertion.
 */
export async function startPostgres (t: PostgresTest): Promise<TestPostgres | undefined> {
  let cluster: PgCluster
  try {
    cluster = await startPgCluster()
  } catch (err) {
    if (!(err instanceof PgUnavailableError)) throw err
    if (process.env.CI !== undefined && process.env.CI !== '') {
      t.fail(`${err.message}: CI must install it before the tests (.ci/run)`)
    } else {
      t.comment(err.message)
      t.plan(0, SKIP_REASON)
    }
    return undefined
  }
  t.teardown(() => cluster.destroy())
  return cluster
}
