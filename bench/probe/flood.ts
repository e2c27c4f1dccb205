// A connection flood: far more idle connections than HTTP_MAX_CONNECTIONS. The excess must be
// closed at once, the service must stay up and take real updates as soon as the flood ends, and
// the log must get one "connection refused" line at once and then one a minute, not one each.
import { setTimeout as sleep } from 'node:timers/promises'
import { runNodeLoad } from '../lib/node-load.js'
import { openMany } from './raw.js'
import { count, warningLinesRow, type CheckResult } from './report.js'
import type { ProbeService } from './service.js'

export interface FloodOptions {
  service: ProbeService
  /** The service's HTTP_MAX_CONNECTIONS. */
  maxConnections: number
  connections: number
}

export const REFUSED_LINE = 'connection refused'

export async function probeFlood ({ service, maxConnections, connections }: FloodOptions): Promise<CheckResult> {
  const port = Number(new URL(service.url).port)
  const started = Date.now()
  const flood = await openMany(port, connections)
  // A refused connection is closed right after it is accepted; give the last ones a moment.
  await sleep(500)
  const held = flood.filter((c) => c.closedAt === undefined).length
  const refused = flood.length - held
  const during = await runNodeLoad({ url: `${service.url}/telegram/webhook`, secret: service.secret, connections: 1, requests: 1, sequence: { firstUpdateId: 5_000_000, firstUserId: 600_000_000, users: 1 }, timeoutMs: 2000 })
  const floodMs = Date.now() - started
  for (const c of flood) c.socket.destroy()
  await sleep(200)
  const after = await runNodeLoad({ url: `${service.url}/telegram/webhook`, secret: service.secret, connections: 10, requests: 100, sequence: { firstUpdateId: 5_000_100, firstUserId: 600_000_000, users: 50 } })
  const lines = service.logLines(REFUSED_LINE).length
  const alive = service.started.child.exitCode === null
  const refusedAll = refused + during.errors
  return {
    afterStop: () => [warningLinesRow('connection flood', `"${REFUSED_LINE}" log lines in all, after the stop`, service.logLines(REFUSED_LINE), refusedAll, Date.now() - started)],
    rows: [
      {
        check: 'connection flood',
        what: `${count(connections)} idle connections, HTTP_MAX_CONNECTIONS=${maxConnections}`,
        measured: `${count(held)} held, ${count(refused)} closed at once`,
        expected: `${count(maxConnections)} held, the rest closed`,
        ok: held === maxConnections && refused === connections - maxConnections
      },
      {
        check: 'connection flood',
        what: 'a real update while the flood holds every slot',
        measured: during.errors > 0 ? 'refused (connection closed)' : `answered ${JSON.stringify(during.statuses)}${during.non2xx === 0 ? ' 200' : ''}`,
        expected: 'refused: the cap is for everyone',
        ok: undefined
      },
      {
        check: 'connection flood',
        what: 'real updates once the flood ends',
        measured: `${count(after.completed - after.non2xx)}/${count(after.sent)} got 200 (errors ${after.errors}); the service ${alive ? 'is up' : 'EXITED'}`,
        expected: 'all 200, service up',
        ok: alive && after.non2xx === 0 && after.errors === 0 && after.completed === after.sent
      },
      {
        check: 'connection flood',
        what: `"${REFUSED_LINE}" log lines during the flood (${(floodMs / 1000).toFixed(1)} s)`,
        measured: count(lines),
        expected: '1 (then 1 a minute with the count)',
        ok: lines === 1
      }
    ]
  }
}
