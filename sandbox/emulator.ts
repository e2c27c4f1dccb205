/**
 * A local stand-in for Telegram's Bot API server (api.telegram.org, or `telegram-bot-api --local`)
 * that needs no token and no network: Bot API methods at /bot<token>/<method>, file downloads at
 * /file/bot<token>/<path>, webhook delivery with Telegram's rules, and a control API for tests
 * and the sandbox UI at /_sandbox/bot<token>/<action>. A development tool: nothing in the
 * production start path imports it.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { UserFromGetMe } from 'telegraf/types'
import { BotApiError, errorBody, notFound, unauthorized } from './api-error.js'
import { SandboxBot, type MethodAnswer } from './bot.js'
import { SandboxClock } from './clock.js'
import { BotControl } from './control.js'
import { handleControlRequest } from './control-routes.js'
import { callMethod, executeWebhookAnswer } from './methods.js'
import { parseArgs, readBody } from './request-args.js'
import { DropConnection } from './scripts.js'

export interface EmulatorOptions {
  /** 0 (the default) picks a free port. */
  port?: number
  /** Default 127.0.0.1. */
  host?: string
  /** Behave like `telegram-bot-api --local`: http webhooks, any port, local addresses. */
  local?: boolean
  /** Multiplies every Telegram delay and timeout (0.01 makes the 60 s timeout 600 ms). Default 1. */
  timeScale?: number
  /**
   * The tokens that exist. By default any token shaped like a real one is accepted (`<bot id>:`
   * then characters of A-Z a-z 0-9 _ -, at most 80 in all, as the Bot API server checks it), so
   * tests can make up their own. getMe's id is the bot id before the colon.
   */
  tokens?: readonly string[]
  /** getMe's username. Default "sandbox_bot". */
  botUsername?: string
  /**
   * Telegram's one setWebhook (with a URL) per second and bot. Default true; tests that set the
   * webhook again within a second on purpose (start-up, then an admin command) turn it off.
   */
  paceSetWebhook?: boolean
}

export interface EmulatorControl {
  /** The control API of the bot behind `token` (created on first use, like on first API call). */
  bot: (token: string) => BotControl
}

export interface Emulator {
  /** The API root to give a client, e.g. http://127.0.0.1:PORT (TELEGRAM_API_ROOT). */
  url: string
  control: EmulatorControl
  close: () => Promise<void>
}

// Uploads are accepted up to the public Bot API's 50 MB.
const MAX_REQUEST_BYTES = 50 * 1024 * 1024
const TOKEN_SHAPE = /^([1-9]\d{0,15}):[A-Za-z0-9_-]+$/
const MAX_TOKEN_LENGTH = 80

export async function startEmulator (options: EmulatorOptions = {}): Promise<Emulator> {
  const clock = new SandboxClock(options.timeScale ?? 1)
  const bots = new BotRegistry(options, clock)
  const server = http.createServer((req, res) => { route(bots, req, res).catch(() => {}) })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve)
  })
  const { address, port } = server.address() as AddressInfo
  return {
    url: `http://${address}:${port}`,
    control: {
      bot: (token) => {
        const bot = bots.get(token)
        if (bot === undefined) throw new Error('not a valid bot token for this emulator')
        return bot.control
      }
    },
    close: async () => {
      bots.closeAll()
      clock.cancelAll()
      const closed = new Promise<void>((resolve) => { server.close(() => { resolve() }) })
      // Long polls and keep-alive connections would otherwise hold close() open.
      server.closeAllConnections()
      await closed
    }
  }
}

interface Registered {
  bot: SandboxBot
  control: BotControl
}

class BotRegistry {
  private readonly bots = new Map<string, Registered>()

  constructor (private readonly options: EmulatorOptions, private readonly clock: SandboxClock) {}

  /** The bot behind a token, or undefined when Telegram would answer 401. */
  get (token: string): Registered | undefined {
    const existing = this.bots.get(token)
    if (existing !== undefined) return existing
    const botId = this.botIdOf(token)
    if (botId === undefined) return undefined
    const registered = this.create(botId)
    this.bots.set(token, registered)
    return registered
  }

  private botIdOf (token: string): number | undefined {
    const match = TOKEN_SHAPE.exec(token)
    if (match?.[1] === undefined || token.length > MAX_TOKEN_LENGTH) return undefined
    if (this.options.tokens !== undefined && !this.options.tokens.includes(token)) return undefined
    return Number(match[1])
  }

  private create (botId: number): Registered {
    const bot: SandboxBot = new SandboxBot({
      user: emulatedBotUser(botId, this.options.botUsername),
      mode: { local: this.options.local ?? false },
      clock: this.clock,
      paceSetWebhook: this.options.paceSetWebhook ?? true,
      onWebhookAnswer: (contentType, body) => { executeWebhookAnswer(bot, contentType, body) }
    })
    return { bot, control: new BotControl(bot) }
  }

  closeAll (): void {
    for (const { bot } of this.bots.values()) bot.close()
  }
}

/** What getMe answers for the bot behind a token with this bot id (and `botUsername`). */
export function emulatedBotUser (botId: number, username = 'sandbox_bot'): UserFromGetMe {
  return {
    id: botId,
    is_bot: true,
    first_name: 'Sandbox Bot',
    username,
    can_join_groups: true,
    can_read_all_group_messages: false,
    supports_inline_queries: false
  }
}

const API_PATH = /^\/bot([^/]+)\/([^/]*)$/
const FILE_PATH = /^\/file\/bot([^/]+)\/(.+)$/
const CONTROL_PATH = /^\/_sandbox\/bot([^/]+)\/([^/]+)$/

async function route (bots: BotRegistry, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  try {
    const url = new URL(req.url ?? '/', 'http://emulator')
    const target = resolveTarget(bots, decodeURIComponent(url.pathname))
    if (target.kind === 'file') {
      sendFile(res, target.bot.bot, target.rest)
      return
    }
    const body = await readBody(req, MAX_REQUEST_BYTES)
    const answer = target.kind === 'api'
      ? await callMethod(target.bot.bot, target.rest, parseArgs(req.headers['content-type'], body, url.searchParams), 'http')
      : await handleControlRequest(target.bot.control, req.method ?? 'GET', target.rest, url.searchParams, body)
    sendAnswer(res, answer)
  } catch (error) {
    if (error instanceof DropConnection) req.socket.destroy()
    else sendError(res, error)
  }
}

interface Target {
  kind: 'api' | 'file' | 'control'
  bot: Registered
  /** The method, the file path or the control action. */
  rest: string
}

/** Which bot and what part of the server a path addresses; 404 for other paths, 401 for a bad token. */
function resolveTarget (bots: BotRegistry, path: string): Target {
  const routes = [['api', API_PATH], ['file', FILE_PATH], ['control', CONTROL_PATH]] as const
  for (const [kind, pattern] of routes) {
    const match = pattern.exec(path)
    if (match === null) continue
    const bot = bots.get(match[1] ?? '')
    if (bot === undefined) throw unauthorized()
    return { kind, bot, rest: match[2] ?? '' }
  }
  throw notFound()
}

function sendAnswer (res: http.ServerResponse, answer: MethodAnswer): void {
  const body: Record<string, unknown> = { ok: true, result: answer.result }
  if (answer.description !== undefined) body.description = answer.description
  sendJson(res, 200, body)
}

function sendError (res: http.ServerResponse, error: unknown): void {
  const apiError = error instanceof BotApiError
    ? error
    : new BotApiError(500, `Internal Server Error: ${error instanceof Error ? error.message : String(error)}`)
  const headers: http.OutgoingHttpHeaders = {}
  if (apiError.retryAfter !== undefined) headers['retry-after'] = String(apiError.retryAfter)
  sendJson(res, apiError.errorCode, errorBody(apiError), headers)
}

function sendJson (res: http.ServerResponse, status: number, body: unknown, headers: http.OutgoingHttpHeaders = {}): void {
  if (res.headersSent || res.destroyed) return
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers })
  res.end(text)
}

/** Stand-in bytes for a file the bot can download (an Ogg header, then zeros). */
function sendFile (res: http.ServerResponse, bot: SandboxBot, filePath: string): void {
  const file = bot.conversations.fileByPath(filePath)
  if (file === undefined) throw notFound()
  const bytes = Buffer.alloc(file.file_size)
  bytes.write('OggS')
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes.length })
  res.end(bytes)
}
