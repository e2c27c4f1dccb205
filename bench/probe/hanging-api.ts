// A hanging Bot API (issue 13, finding 2): sendMessage never answers while K updates that reply
// arrive. Sampled every few seconds from the service's side: its connections to the API (from
// /proc, and as webhook-info reports them), its backlog, the updates acknowledged. Then the API
// answers again, and every update must be acknowledged and the bot reply again.
//
// Telegraf (4.16) uses no agent for an http:// root, so there the socket bound and the silence
// deadline of src/bot/index.ts do not apply; with an https:// root they do. The probe runs both.
import { Agent, request } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { API_SILENCE_MS, MAX_API_SOCKETS } from '../../src/bot/index.js'
import type { IngressStats } from '../../src/ingress/ingress.js'
import type { BotControl } from '../../sandbox/control.js'
import { textUpdate } from '../../test/helpers/app.js'
import { post } from '../lib/node-load.js'
import { count, seconds, type CheckResult, type Row } from './report.js'
import { connectionsTo, openDescriptors, type ProbeService } from './service.js'

export interface HangingApiOptions {
  service: ProbeService
  control: BotControl
  /** The port the service reaches its Bot API at (the emulator's, or its TLS front's). */
  apiPort: number
  scheme: 'http' | 'https'
  updates: number
  /** The service's TELEGRAM_MAX_BACKLOG. */
  backlog: number
  holdMs: number
  sampleMs: number
}

export interface Sample {
  atMs: number
  apiSockets: number
  /** webhook-info's bot_api.open_sockets (https only), and its status (503 while the API hangs). */
  reported: number | null | undefined
  infoStatus: number | undefined
  descriptors: number
  ingress: IngressStats | undefined
  acked: number
}

interface WebhookInfo { status: number, body: { ingress?: IngressStats, bot_api?: { open_sockets: number | null } } }

/** GET webhook-info; undefined when it gives no answer within 10 s (its own call has an 8 s timeout). */
function webhookInfo (url: string): Promise<WebhookInfo | undefined> {
  return new Promise((resolve) => {
    const req = request(`${url}/telegram/webhook-info`, { agent: false, timeout: 10_000 }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { text += chunk })
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as WebhookInfo['body'] })
        } catch {
          resolve(undefined)
        }
      })
    })
    req.on('timeout', () => { req.destroy() })
    req.on('error', () => { resolve(undefined) })
    req.end()
  })
}

/** POSTs one update as Telegram does; 0 when the connection failed. */
async function postUpdate (agent: Agent, service: ProbeService, update: Record<string, unknown>): Promise<number> {
  return await post(agent, new URL(`${service.url}/telegram/webhook`), service.secret, JSON.stringify(update), 300_000).catch(() => 0)
}

export async function probeHangingApi (options: HangingApiOptions): Promise<CheckResult & { samples: Sample[] }> {
  const { service, control, apiPort, scheme, updates, backlog, holdMs, sampleMs } = options
  let open = (): void => {}
  const gate = new Promise<void>((resolve) => { open = resolve })
  // The emulator's own answer, once the gate opens: the chat is known, so the reply succeeds.
  control.script('sendMessage', async () => { await gate })
  // Telegram keeps at most 100 requests open per bot (max_connections).
  const agent = new Agent({ keepAlive: true, maxSockets: 100 })
  const firstChat = 700_000_000
  let acked = 0
  const answers: Array<Promise<number>> = []
  for (let i = 0; i < updates; i++) {
    const update = textUpdate('/start', firstChat + i, 9_000_000 + i)
    control.learnChatsOf(update)
    answers.push(postUpdate(agent, service, update).then((status) => {
      if (status === 200) acked++
      return status
    }))
  }
  const started = Date.now()
  const samples: Sample[] = []
  const infos: Array<Promise<void>> = []
  const takeSample = (): void => {
    const sample: Sample = {
      atMs: Date.now() - started,
      apiSockets: connectionsTo(service.pid, apiPort),
      reported: undefined,
      infoStatus: undefined,
      descriptors: openDescriptors(service.pid),
      ingress: undefined,
      acked
    }
    samples.push(sample)
    infos.push(webhookInfo(service.url).then((info) => {
      sample.infoStatus = info?.status
      sample.ingress = info?.body.ingress
      sample.reported = info?.body.bot_api?.open_sockets
    }))
  }
  while (Date.now() - started < holdMs) {
    takeSample()
    await sleep(Math.min(sampleMs, holdMs - (Date.now() - started)))
  }
  takeSample()
  const held = samples.slice()

  // The API answers again: every update must be acknowledged and finished, and a new one replied to.
  const reopened = Date.now()
  open()
  control.script('sendMessage', undefined)
  const statuses = await Promise.race([Promise.all(answers), sleep(60_000, undefined, { ref: false })])
  let drained: IngressStats | undefined
  for (let i = 0; i < 300; i++) {
    drained = (await webhookInfo(service.url))?.body.ingress
    if (drained !== undefined && drained.inFlight === 0 && drained.waitingForRoom === 0) break
    await sleep(100)
  }
  const recoveryMs = Date.now() - reopened
  const fresh = textUpdate('/start', firstChat + updates, 9_900_000)
  control.learnChatsOf(fresh)
  const freshStatus = await postUpdate(agent, service, fresh)
  let replied = false
  for (let i = 0; i < 50 && !replied; i++) {
    replied = control.sent(firstChat + updates).length > 0
    if (!replied) await sleep(100)
  }
  takeSample()
  await Promise.all(infos)
  agent.destroy()
  // The deadline's own words (src/bot/index.ts), inside the handler failure the ingress logs.
  const silenced = service.logLines('update handler failed').filter((line) => JSON.stringify(line).includes('the Bot API sent nothing for')).length

  const maxSockets = Math.max(...held.map((s) => s.apiSockets))
  const maxInFlight = Math.max(...held.map((s) => s.ingress?.inFlight ?? 0))
  const maxWaiting = Math.max(...held.map((s) => s.ingress?.waitingForRoom ?? 0))
  const check = `hanging Bot API (${scheme})`
  const allAcked = statuses !== undefined && statuses.every((s) => s === 200)
  const rows: Row[] = [
    {
      check,
      what: `connections to the API, ${count(updates)} replies hanging ${seconds(holdMs)} s`,
      measured: `at most ${count(maxSockets)} (webhook-info said ${scheme === 'https' ? count(Math.max(...held.map((s) => s.reported ?? 0))) : 'null: not counted'})`,
      expected: scheme === 'https' ? `at most ${MAX_API_SOCKETS} (MAX_API_SOCKETS)` : 'unbounded but by the backlog: no agent for http://',
      ok: scheme === 'https' ? maxSockets <= MAX_API_SOCKETS : maxSockets <= backlog + 5
    },
    {
      check,
      what: `backlog, TELEGRAM_MAX_BACKLOG=${backlog}`,
      measured: `taken at most ${count(maxInFlight)}, waiting unanswered at most ${count(maxWaiting)}; acked during the hang ${count(held.at(-1)?.acked ?? 0)}`,
      expected: `taken <= ${backlog}, the rest waits`,
      ok: maxInFlight <= backlog
    }
  ]
  if (scheme === 'https') {
    rows.push({
      check,
      what: `calls ended by the ${seconds(API_SILENCE_MS)} s silence deadline`,
      measured: `${count(silenced)} (their handlers failed, logged; their updates were acked)`,
      expected: holdMs > API_SILENCE_MS + 2000 ? `at least the first ${MAX_API_SOCKETS}` : `none (the hold is under ${seconds(API_SILENCE_MS)} s)`,
      ok: holdMs > API_SILENCE_MS + 2000 ? silenced >= Math.min(updates, MAX_API_SOCKETS) : silenced === 0
    })
  }
  rows.push({
    check,
    what: 'once the API answers again',
    measured: `${allAcked ? 'every update acked' : `acked ${count(acked)}/${count(updates)}`}, in flight ${drained?.inFlight ?? '?'} after ${seconds(recoveryMs)} s; a new /start: ${freshStatus}, ${replied ? 'replied to' : 'NO reply'}; ${count(samples.at(-1)?.apiSockets ?? 0)} connections left open (keep-alive)`,
    expected: 'all acked, nothing in flight, the bot replies again',
    ok: allAcked && drained?.inFlight === 0 && freshStatus === 200 && replied
  })
  return { rows, samples }
}

/** The samples as a small table of their own, printed under the main one. */
export function formatSamples (scheme: string, samples: Sample[]): string {
  // webhook-info's figures are as of its answer: while the https agent's sockets all hang, its own
  // getWebhookInfo waits for one, and it answers 503 after its 8 s timeout (then cached for 5 s).
  const lines = [`hanging Bot API (${scheme}), every sample: t s, connections to the API (/proc | webhook-info), descriptors, taken, waiting for room, failed, acked`]
  for (const s of samples) {
    lines.push(`  ${seconds(s.atMs).padStart(6)}  ${String(s.apiSockets).padStart(5)} | ${String(s.reported ?? '-').padStart(4)}  ${String(s.descriptors).padStart(5)}  ${String(s.ingress?.inFlight ?? '-').padStart(5)}  ${String(s.ingress?.waitingForRoom ?? '-').padStart(5)}  ${String(s.ingress?.failed ?? '-').padStart(5)}  ${String(s.acked).padStart(5)}  (webhook-info ${s.infoStatus ?? 'no answer'})`)
  }
  return lines.join('\n')
}
