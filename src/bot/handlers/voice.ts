import { message } from 'telegraf/filters'
import type { BotFeature } from '../index.js'

export const VOICE_ACK_TEXT = 'Got your voice message, thank you.'

/** A voice message is logged (who sent it, how long it is) and acknowledged to the sender. */
export const voiceFeature: BotFeature = (bot, { log }) => {
  bot.on(message('voice'), async (ctx) => {
    const userId = ctx.from.id
    log.info({ user_id: userId, duration: ctx.message.voice.duration }, `Received voice from ${userId}`)
    await ctx.reply(VOICE_ACK_TEXT, { reply_parameters: { message_id: ctx.message.message_id } })
  })
}
