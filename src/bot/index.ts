// The bot's behaviour, apart from any HTTP: each feature installs its handlers on a Telegraf
// instance. Adding one means a file in handlers/ and a line in `features`; the ingress is untouched.
import type { Log } from '../logger.js'
import { Context, Telegraf } from 'telegraf'
import type { Update } from 'telegraf/types'
import { callApiDirectly } from '../telegram/api-client.js'
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

export function createTelegraf (token: string, apiRoot: string): Telegraf {
  // webhookReply off: answering through the webhook response hides every error and result
  // ("It's not possible to know that such a request was successful", Bot API), and we may have
  // acked already when the handler budget ran out.
  // Telegraf resolves './bot<token>/<method>' against the root, so a root with a path must end in
  // '/' to keep its last segment (config strips trailing slashes, for display).
  const root = apiRoot.endsWith('/') ? apiRoot : `${apiRoot}/`
  const bot = new Telegraf(token, { telegram: { apiRoot: root, webhookReply: false } })
  // Every JSON call on bot.telegram (the handlers' replies, start-up, polling, the admin routes) goes
  // out on Node's HTTP client: less than half the CPU per call of Telegraf's node-fetch client.
  callApiDirectly(bot.telegram)
  // Telegraf's default error handler prints the whole update to the console and rethrows. Rethrow
  // without printing: the ingress logs the failure once, as JSON, with the update's id and type.
  bot.catch((err) => { throw err })
  return bot
}

/**
 * Runs one update through the bot: what Telegraf's handleUpdate does, without two costs it pays per
 * update that this service does not need, together about 8% of the CPU per update in an A/B run
 * (bench/README.md): a new Telegram API client for each update (only useful to answer through the
 * webhook response, which is off) and a 90 s p-timeout timer (the ingress keeps its own handler
 * timeout). Errors go to bot.catch, as in handleUpdate; ours rethrows them to the ingress, which logs
 * them once. Until getMe has filled in bot.botInfo (the start-up checks do), handleUpdate is used,
 * as it fetches it.
 */
export function updateRunner (bot: Telegraf): (update: Update) => Promise<void> {
  return async (update) => {
    if (bot.botInfo === undefined) return await bot.handleUpdate(update)
    const ctx = new Context(update, bot.telegram, bot.botInfo)
    Object.assign(ctx, bot.context)
    try {
      await bot.middleware()(ctx, noNext)
    } catch (err) {
      // bot.catch() stores its handler in a private field; handleUpdate calls it the same way.
      await bot['handleError'](err, ctx)
    }
  }
}

async function noNext (): Promise<void> {}
