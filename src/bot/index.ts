// The bot's behaviour, apart from any HTTP: each feature installs its handlers on a Telegraf
// instance. Adding one means a file in handlers/ and a line in `features`; the ingress is untouched.
import type { Log } from '../logger.js'
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

export function createTelegraf (token: string, apiRoot: string): Telegraf {
  // webhookReply off: answering through the webhook response hides every error and result
  // ("It's not possible to know that such a request was successful", Bot API), and we may have
  // acked already when the handler budget ran out.
  const bot = new Telegraf(token, { telegram: { apiRoot, webhookReply: false } })
  // Telegraf's default error handler prints the whole update to the console and rethrows. Rethrow
  // without printing: the ingress logs the failure once, as JSON, with the update's id and type.
  bot.catch((err) => { throw err })
  return bot
}
