/**
 * Scripting hooks: a test (or the bench) replaces one bot's answer to a method with its own, to
 * play the Telegram failures that the emulator never produces by itself (a 5xx, a 429 on a method
 * that has none, a hang, a connection dropped mid-call). Every call is still recorded first, so
 * the test sees what the client sent whatever the script answers.
 */
import { BotApiError } from './api-error.js'
import type { MethodAnswer } from './bot.js'
import type { ApiCallRecord } from './methods.js'

/** A failure in the Bot API's own shape, as a test would read it in Telegram's answer. */
export interface ScriptedError {
  error_code: number
  description: string
  parameters?: { retry_after?: number }
}

/**
 * What a script answers: a result, a failure, 'drop' (the connection is destroyed and nothing is
 * answered, as when the network fails), or undefined to let the emulator answer as usual, after
 * whatever the script awaited (a delay, a gate the test opens).
 */
export type ScriptedAnswer = { result: unknown } | ScriptedError | 'drop' | undefined

// void as well as undefined, so that `async () => { await gate }` is a script.
export type MethodScript = (call: ApiCallRecord) => ScriptedAnswer | void | Promise<ScriptedAnswer | void>

/** Thrown by a 'drop' script: the HTTP layer destroys the socket instead of answering. */
export class DropConnection extends Error {
  constructor () {
    super('connection dropped by a script')
    this.name = 'DropConnection'
  }
}

/** The script's answer as the method's own: a result, or thrown as Telegram's error or a drop. */
export function scriptedAnswer (answer: NonNullable<ScriptedAnswer>): MethodAnswer {
  if (answer === 'drop') throw new DropConnection()
  if ('result' in answer) return { result: answer.result }
  throw new BotApiError(answer.error_code, answer.description, answer.parameters?.retry_after)
}
