// The Bot API the tests talk to: the sandbox's emulator on 127.0.0.1, seen through one bot
// (FAKE_TOKEN's), with the scripting hooks the tests use to play Telegram's failures.
import type { WebhookInfo } from 'telegraf/types'
import type { WebhookPreset } from '../../sandbox/bot.js'
import type { BotControl } from '../../sandbox/control.js'
import { emulatedBotUser, startEmulator } from '../../sandbox/emulator.js'
import type { ApiCallRecord } from '../../sandbox/methods.js'
import type { MethodScript } from '../../sandbox/scripts.js'

// Shaped like a real token, as the emulator checks it; getMe's id is the part before the colon.
export const FAKE_TOKEN = '123456789:TEST-fake-token_for_tests_only_00000'
const FAKE_BOT_USERNAME = 'test_ingress_bot'
/** What getMe answers for FAKE_TOKEN, for tests that preset bot.botInfo instead. */
export const FAKE_BOT = emulatedBotUser(Number(FAKE_TOKEN.split(':')[0]), FAKE_BOT_USERNAME)

/** The webhook as Telegram holds it: getWebhookInfo, plus the secret it never shows. */
export type WebhookState = WebhookInfo & { secret_token?: string }

export interface TestBotApi {
  /** TELEGRAM_API_ROOT for the app. */
  apiRoot: string
  /** The emulator's control API for FAKE_TOKEN's bot, for what the properties below do not cover. */
  control: BotControl
  /** Every call the bot made, oldest first, with its params as sent. */
  readonly calls: ApiCallRecord[]
  callsOf: (method: string) => ApiCallRecord[]
  readonly webhook: WebhookState
  /** A webhook as if set before the test, merged into the current one (nothing is delivered to it). */
  presetWebhook: (preset: WebhookPreset) => void
  /** Answers `method` with `script` (a result, an error, 'drop', or undefined for the emulator's answer). */
  on: (method: string, script: MethodScript) => void
  /** Gives `method` back to the emulator. */
  off: (method: string) => void
  /** An update the test posts to the app itself: its chat becomes one the bot may reply to. */
  learnChatsOf: (update: object) => void
  close: () => Promise<void>
}

export async function startTestBotApi (): Promise<TestBotApi> {
  // Tests set the webhook at start-up and again through the admin routes within a second, which
  // Telegram would refuse with a 429; the tests of that 429 script it.
  const emulator = await startEmulator({ botUsername: FAKE_BOT_USERNAME, paceSetWebhook: false })
  const control = emulator.control.bot(FAKE_TOKEN)
  return {
    apiRoot: emulator.url,
    control,
    get calls () { return control.calls() },
    callsOf: (method) => control.calls(method),
    get webhook () {
      const secret = control.webhookSecretToken()
      return { ...control.webhookInfo(), ...(secret !== undefined && { secret_token: secret }) }
    },
    presetWebhook: (preset) => { control.presetWebhook(preset) },
    on: (method, script) => { control.script(method, script) },
    off: (method) => { control.script(method, undefined) },
    learnChatsOf: (update) => { control.learnChatsOf(update) },
    close: async () => { await emulator.close() }
  }
}
