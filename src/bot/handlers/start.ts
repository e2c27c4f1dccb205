import { Markup } from 'telegraf'
import type { BotFeature } from '../index.js'

export function welcomeText (firstName: string | undefined): string {
  const name = firstName === undefined || firstName === '' ? 'there' : firstName
  return `Welcome, ${name}! Send me a voice message and I will let you know it arrived.`
}

/** /start: a welcome, with a button that opens the Mini App when one is configured. */
export const startFeature: BotFeature = (bot, { miniAppUrl }) => {
  bot.start(async (ctx) => {
    const keyboard = miniAppUrl === undefined
      ? undefined
      : Markup.inlineKeyboard([Markup.button.webApp('Open the app', miniAppUrl)])
    await ctx.reply(welcomeText(ctx.from.first_name), keyboard)
  })
}
