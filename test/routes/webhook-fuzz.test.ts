// The service against whatever fast-check makes of a request (test/helpers/fuzz-requests.ts), through
// inject: never a 5xx, the status the README's rules give, a refusal that names what it refused,
// and afterwards a real update still 200 and no prototype touched. The probe sends 100 000 of these
// over real sockets (npm run probe).
import fc from 'fast-check'
import t from 'tap'
import { buildTestApp, postUpdate, SECRET, textUpdate, WEBHOOK_URL } from '../helpers/app.js'
import { fuzzRequest, judge } from '../helpers/fuzz-requests.js'

const RUNS = 3000

t.test(`${RUNS} generated requests: no 5xx, the status the rules give, every refusal naming its reason`, async (t) => {
  const { app, api } = await buildTestApp(t)
  // As the service sets it at start-up, so that webhook-info answers 200 rather than its 503.
  api.presetWebhook({ url: WEBHOOK_URL, max_connections: 100 })
  const prototypeBefore = Object.getOwnPropertyNames(Object.prototype).sort()
  const statuses: Record<number, number> = {}
  const result = await fc.check(fc.asyncProperty(fuzzRequest(SECRET), async (request) => {
    const res = await app.inject({ method: request.method as 'POST', url: request.url, headers: request.headers, payload: request.body })
    statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1
    const problem = judge(request, { status: res.statusCode, body: res.body })
    if (problem !== undefined) throw new Error(`${request.label}: ${problem}`)
  }), { numRuns: RUNS })
  const error = result.errorInstance instanceof Error ? `${result.errorInstance.message}\n` : ''
  t.notOk(result.failed, error + (fc.defaultReportMessage(result) ?? ''))
  t.comment(`answers by status: ${JSON.stringify(statuses)}`)
  for (const status of [200, 400, 401, 404, 405, 415]) t.ok((statuses[status] ?? 0) > 0, `the runs reached a ${status}`)
  t.same(Object.getOwnPropertyNames(Object.prototype).sort(), prototypeBefore, 'Object.prototype untouched')
  const after = await postUpdate(app, textUpdate('/start', 4242))
  t.equal(after.statusCode, 200, 'a real update with the right secret is still 200')
  t.ok((app.ingress.stats.accepted ?? 0) > 0)
})
