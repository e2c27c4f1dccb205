// The bot's behaviour, apart from any HTTP: each feature installs its handlers on a Telegraf
// instance. Adding one means a file in handlers/ and a line in `features`; the ingress is untouched.
import type { Log } from '../logger.js'
import type { ClientRequest } from 'node:http'
import { Agent, type RequestOptions } from 'node:https'
import { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { Telegraf } from 'telegraf'
import { startFeature } from './handlers/start.js'
import { voiceFeature } from './handlers/voice.js'

export interface BotDeps {
  log: Log
  miniAppUrl: string | undefined
}

export type BotFeature = (bot: Telegraf, deps: BotDeps) => void

export const features: BotFeature[] = [startFeature, voiceFeature]

export function installFeatures (bot: Telegraf, deps: BotDeps, list: BotFeature[] = features): void {
  for (const feature of list) feature(bot, deps)
}

/** Open connections to the Bot API, at most; further calls wait for one in Node's agent. */
export const MAX_API_SOCKETS = 100

/**
 * How long a Bot API connection may go without a byte: longer than the poller's 30 s long poll,
 * shorter than the 90 s after which the ingress gives up on a handler, so a hanging Telegram ends
 * the handler's call (an error, logged) and frees its socket before the handler is abandoned.
 */
export const API_SILENCE_MS = 60_000

/**
 * Telegraf's own default (keep-alive, 10 s probes) with a bound on the sockets and a deadline on
 * silence: a Bot API that hangs must not take a descriptor per call, nor keep it. Telegraf (4.16)
 * uses no agent at all for an http:// root (a local telegram-bot-api server, the sandbox); there
 * node-fetch falls back to Node's global agent, without either bound.
 */
export class BotApiAgent extends Agent {
  readonly #silenceMs: number
  /** Sockets carrying a call now. An idle one in the pool is Node's to time out, or not. */
  readonly #busy = new WeakSet<Duplex>()

  constructor (silenceMs = API_SILENCE_MS) {
    super({ keepAlive: true, keepAliveMsecs: 10_000, maxSockets: MAX_API_SOCKETS })
    this.#silenceMs = silenceMs
  }

  override createConnection (options: RequestOptions, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    const socket = super.createConnection(options, callback)
    if (socket instanceof Socket) {
      this.#busy.add(socket)
      socket.setTimeout(this.#silenceMs)
      socket.on('timeout', () => {
        if (this.#busy.has(socket)) socket.destroy(new Error(`the Bot API sent nothing for ${this.#silenceMs} ms`))
      })
    }
    return socket
  }

  // Node sets a socket's timeout to the agent's idle one (none) when it goes back to the pool, and
  // sets none when the socket is reused: without these two, only a connection's first call had a
  // deadline, and under traffic nearly every call goes on a kept connection.
  override keepSocketAlive (socket: Duplex): void {
    this.#busy.delete(socket)
    // Node reads the result (false: close rather than keep), though @types/node says void.
    return super.keepSocketAlive(socket)
  }

  override reuseSocket (socket: Duplex, request: ClientRequest): void {
    super.reuseSocket(socket, request)
    this.#busy.add(socket)
    if (socket instanceof Socket) socket.setTimeout(this.#silenceMs)
  }

  /** How long a connection carrying a call may stay silent. */
  get silenceMs (): number {
    return this.#silenceMs
  }

  /** Connections open now, in use or idle in the pool (webhook-info reports it). */
  get openSockets (): number {
    let open = 0
    for (const list of [...Object.values(this.sockets), ...Object.values(this.freeSockets)]) open += list?.length ?? 0
    return open
  }
}

export function createTelegraf (token: string, apiRoot: string, agent = new BotApiAgent()): Telegraf {
  // webhookReply off: answering through the webhook response hides every error and result
  // ("It's not possible to know that such a request was successful", Bot API), and we may have
  // acked already when the handler budget ran out.
  // Telegraf resolves './bot<token>/<method>' against the root, so a root with a path must end in
  // '/' to keep its last segment (config strips trailing slashes, for display).
  const root = apiRoot.endsWith('/') ? apiRoot : `${apiRoot}/`
  // handlerTimeout: Infinity, because the ingress gives up on a handler itself (its own 90 s, the
  // same as Telegraf's default, on one timer for all updates); Telegraf's would start a timer and a
  // promise race on every update for nothing (p-timeout returns the promise as it is for Infinity).
  const bot = new Telegraf(token, { handlerTimeout: Infinity, telegram: { apiRoot: root, webhookReply: false, agent } })
  // Telegraf's default error handler prints the whole update to the console and rethrows. Rethrow
  // without printing: the ingress logs the failure once, as JSON, with the update's id and type.
  bot.catch((err) => { throw err })
  return bot
}
