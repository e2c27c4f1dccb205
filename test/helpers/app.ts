// Builds the app for one test against the Bot API emulator, and closes both when the test ends.
import type { FastifyInstance, LightMyRequestResponse as Response } from 'fastify'
import { buildApp, type AppOptions } from '../../src/app.js'
import { FAKE_BOT, FAKE_TOKEN, startTestBotApi, type TestBotApi } from './bot-api.js'
import { LogCapture } from './log-capture.js'
import type { Update } from 'telegraf/types'

export const WEBHOOK_URL = 'https://bot.example.com/api/telegram/webhook'
export const SECRET = 'test_secret-0123456789'
export const ADMIN_TOKEN = 'admin-token-for-tests-0123456789'

export interface Teardown { teardown: (fn: () => unknown) => void }

export interface TestApp {
  app: FastifyInstance
  api: TestBotApi
  logs: LogCapture
}

export function baseEnv (api: TestBotApi, env: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    TELEGRAM_BOT_TOKEN: FAKE_TOKEN,
    TELEGRAM_WEBHOOK_URL: WEBHOOK_URL,
    TELEGRAM_WEBHOOK_SECRET: SECRET,
    TELEGRAM_ADMIN_TOKEN: ADMIN_TOKEN,
    TELEGRAM_API_ROOT: api.apiRoot,
    LOG_LEVEL: 'debug',
    ...env
  }
}

export async function buildTestApp (t: Teardown, env: Record<string, string | undefined> = {}, options: Omit<AppOptions, 'env' | 'logStream'> = {}): Promise<TestApp> {
  const api = await startTestBotApi()
  t.teardown(() => api.close())
  const logs = new LogCapture()
  const app = await buildApp({ env: baseEnv(api, env), logStream: logs, botInfo: FAKE_BOT, ...options })
  t.teardown(() => app.close())
  apiOfApp.set(app, api)
  return { app, api, logs }
}

// postUpdate plays Telegram, so the Bot API must know the chats of what it posts (see learnChatsOf);
// kept here so the tests keep calling postUpdate(app, update).
const apiOfApp = new WeakMap<FastifyInstance, TestBotApi>()

let nextUpdateId = 1000

/** An update carrying a private message from `userId` with the given content fields. */
function privateMessage (userId: number, updateId: number, content: Record<string, unknown>): Record<string, unknown> {
  return {
    update_id: updateId,
    message: {
      message_id: updateId,
      date: 1_700_000_000,
      chat: { id: userId, type: 'private', first_name: 'Ada' },
      from: { id: userId, is_bot: false, first_name: 'Ada' },
      ...content
    }
  }
}

/** A private text message from `userId`; commands are text starting with a slash. */
export function textUpdate (text: string, userId = 42, updateId = nextUpdateId++): Record<string, unknown> {
  const entities = text.startsWith('/') ? [{ type: 'bot_command', offset: 0, length: text.split(' ')[0]?.length ?? 0 }] : undefined
  return privateMessage(userId, updateId, { text, ...(entities !== undefined && { entities }) })
}

/** textUpdate typed as Telegraf's Update, for code that takes one (the ingress, the bot runner). */
export const typedTextUpdate = (text: string, userId: number, updateId: number): Update => textUpdate(text, userId, updateId) as unknown as Update

export function voiceUpdate (userId = 42, updateId = nextUpdateId++): Record<string, unknown> {
  return privateMessage(userId, updateId, {
    voice: { file_id: 'voice-file', file_unique_id: 'voice-unique', duration: 3, mime_type: 'audio/ogg', file_size: 1234 }
  })
}

/** Posts `update` as Telegram would; `secret` null sends no secret header. */
export async function postUpdate (app: FastifyInstance, update: unknown, secret: string | null = SECRET): Promise<Response> {
  if (typeof update === 'object' && update !== null) apiOfApp.get(app)?.learnChatsOf(update)
  return await app.inject({
    method: 'POST',
    url: '/telegram/webhook',
    headers: { 'content-type': 'application/json', ...(secret !== null && { 'x-telegram-bot-api-secret-token': secret }) },
    payload: JSON.stringify(update)
  })
}
