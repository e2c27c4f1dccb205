// Micro-benchmarks of the pieces on the update path, without HTTP: what one update costs in the
// ingress (dedupe, chat queue, budget race), in Telegraf's handleUpdate and in a per-request pino
// child. On a noisy machine these show what a hot-path change bought more steadily than the HTTP
// benchmark can; the HTTP benchmark (run.ts) is still the measure of the whole.
//
//   node dist/bench/bench/micro.js [--iterations N] [--rounds N] [--only name,...]
import { Writable } from 'node:stream'
import { parseArgs } from 'node:util'
import Fastify, { type FastifyInstance } from 'fastify'
import { pino } from 'pino'
import { Telegraf } from 'telegraf'
import type { Update } from 'telegraf/types'
import { buildApp } from '../src/app.js'
import { Ingress } from '../src/ingress/ingress.js'
import { MemoryDedupe } from '../src/ingress/dedupe.js'
import { ChatQueue, chatKeyOf } from '../src/ingress/chat-queue.js'
import { createLogger, lazyRequestLoggerFactory, SecretScrubber } from '../src/logger.js'
import { STUB_BOT } from './bot-api-stub.js'
import { median } from './lib/report.js'
import { SECRET, TOKEN, WEBHOOK_URL } from './lib/settings.js'
import { nthUpdate } from './lib/updates.js'

const { values } = parseArgs({ options: { iterations: { type: 'string' }, rounds: { type: 'string' }, only: { type: 'string' } } })
const ITERATIONS = Number(values.iterations ?? 200_000)
const ROUNDS = Number(values.rounds ?? 5)
const only = values.only?.split(',')

// Updates as the webhook gets them: parsed once, up front, so parsing is not what is measured.
const updates: Update[] = Array.from({ length: 10_000 }, (_, n) => JSON.parse(nthUpdate({ firstUpdateId: 1, firstUserId: 500_000_000, users: 1000 }, n).body) as Update)
let nextId = 1_000_000
/** The n-th update with a fresh update_id (the object is reused: the ingress does not keep it). */
const fresh = (n: number): Update => {
  const u = updates[n % updates.length] as Update
  u.update_id = nextId++
  return u
}

const devNull = new Writable({ write (_chunk, _encoding, callback) { callback() } })
const silentLog = createLogger(new SecretScrubber(), devNull, 'info')

/** Runs `op` ITERATIONS times, `concurrency` at a time (as 100 connections would), in ns per op. */
async function measure (op: (n: number) => Promise<unknown> | unknown, concurrency: number): Promise<number> {
  const started = process.hrtime.bigint()
  for (let i = 0; i < ITERATIONS; i += concurrency) {
    const batch: Array<Promise<unknown> | unknown> = []
    for (let j = 0; j < concurrency && i + j < ITERATIONS; j++) batch.push(op(i + j))
    await Promise.all(batch)
  }
  return Number(process.hrtime.bigint() - started) / ITERATIONS
}

const noopBot = new Telegraf(TOKEN, { telegram: { webhookReply: false } })
noopBot.botInfo = STUB_BOT
noopBot.use(() => {})

const bodies = Array.from({ length: 10_000 }, (_, n) => nthUpdate({ firstUpdateId: 0, firstUserId: 500_000_000, users: 1000 }, n).body)

/** One POST through Fastify's inject (no sockets): the in-process cost of a route, plus inject's own. */
function injector (app: FastifyInstance): (n: number) => Promise<unknown> {
  return async (n) => {
    const body = (bodies[n % bodies.length] as string).replace(/"update_id":\d+/, `"update_id":${nextId++}`)
    const res = await app.inject({ method: 'POST', url: '/telegram/webhook', headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': SECRET }, payload: body })
    if (res.statusCode !== 200) throw new Error(`got ${res.statusCode}`)
  }
}

const bareApp = Fastify({ logger: false })
bareApp.post('/telegram/webhook', async (request, reply) => {
  if (request.headers['x-telegram-bot-api-secret-token'] !== SECRET) return reply.code(401).send()
  if (typeof (request.body as { update_id?: unknown } | null)?.update_id !== 'number') return reply.code(400).send()
  return reply.code(200).send()
})
const serviceApp = await buildApp({
  env: { TELEGRAM_BOT_TOKEN: TOKEN, TELEGRAM_WEBHOOK_SECRET: SECRET, TELEGRAM_WEBHOOK_URL: WEBHOOK_URL, TELEGRAM_API_ROOT: 'http://127.0.0.1:9', LOG_LEVEL: 'info' },
  logStream: devNull,
  botInfo: STUB_BOT,
  features: [(bot) => { bot.use(() => {}) }]
})
await Promise.all([bareApp.ready(), serviceApp.ready()])

const cases: Record<string, () => (n: number) => Promise<unknown> | unknown> = {
  'inject: bare Fastify route (the floor)': () => injector(bareApp),
  'inject: this service, no-op bot': () => injector(serviceApp),
  'dedupe.claim (window 65536)': () => {
    const dedupe = new MemoryDedupe()
    return (n) => dedupe.claim(fresh(n).update_id)
  },
  'chatKeyOf + ChatQueue.run (1000 chats)': () => {
    const queue = new ChatQueue()
    const job = (done: () => void): void => { done() }
    return (n) => { queue.run(chatKeyOf(fresh(n)), job) }
  },
  'ingress.accept, no-op handler, budget 5000 ms': () => {
    const ingress = new Ingress({ handle: async () => {}, log: silentLog, budgetMs: 5000 })
    return async (n) => await ingress.accept(fresh(n))
  },
  'ingress.accept, no-op handler, budget 0': () => {
    const ingress = new Ingress({ handle: async () => {}, log: silentLog, budgetMs: 0 })
    return async (n) => await ingress.accept(fresh(n))
  },
  'ingress.accept + handleUpdate, no-op bot, budget 5000 ms (the service\'s path)': () => {
    const ingress = new Ingress({ handle: async (update) => { await noopBot.handleUpdate(update) }, log: silentLog, budgetMs: 5000 })
    return async (n) => await ingress.accept(fresh(n))
  },
  'telegraf handleUpdate, no-op bot': () => async (n) => { await noopBot.handleUpdate(fresh(n)) },
  'pino child per request (Fastify default)': () => {
    let i = 0
    return () => silentLog.child({ reqId: `req-${++i}` })
  },
  'lazy request logger (childLoggerFactory), nothing logged': () => {
    let i = 0
    const factory = lazyRequestLoggerFactory(silentLog)
    return () => factory(silentLog, { reqId: `req-${++i}` }, {})
  },
  'pino, plain (logger: false)': () => {
    const log = pino({ level: 'silent' })
    return () => log
  }
}

async function main (): Promise<void> {
  const names = Object.keys(cases).filter((name) => only === undefined || only.some((o) => name.includes(o)))
  const results = new Map<string, number[]>(names.map((n) => [n, []]))
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of names) {
      const op = (cases[name] as () => (n: number) => unknown)()
      await measure(op, 100) // warm-up: let V8 optimise before timing
      results.get(name)?.push(await measure(op, 100))
    }
  }
  console.log(`ns per update, median of ${ROUNDS} rounds of ${ITERATIONS} (100 at a time):`)
  for (const [name, ns] of results) {
    console.log(`${median(ns).toFixed(0).padStart(8)} ns  ${name}   (min ${Math.min(...ns).toFixed(0)})`)
  }
}

await main()
