// pino, JSON to stdout. Two layers keep secrets out: `redact` drops the headers that carry them, and
// a last pass over every finished line replaces any secret that slipped into a message or an error
// (Telegraf's request URLs contain the bot token: /bot<token>/<method>).
import { destination, pino, type DestinationStream, type Logger } from 'pino'

export const REDACTED = '[redacted]'

/** Knows the secrets once the configuration is loaded; until then it has nothing to hide. */
export class SecretScrubber {
  #secrets: string[] = []

  add (secrets: Iterable<string>): void {
    for (const s of secrets) if (s.length > 0 && !this.#secrets.includes(s)) this.#secrets.push(s)
    // Longest first, so a token is replaced whole before its tail (the part after the colon).
    this.#secrets.sort((a, b) => b.length - a.length)
  }

  scrub (text: string): string {
    for (const s of this.#secrets) {
      if (text.includes(s)) text = text.replaceAll(s, REDACTED)
    }
    return text
  }
}

export function createLogger (scrubber: SecretScrubber, stream?: DestinationStream, level = 'info'): Logger {
  return pino({
    level,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers["x-telegram-bot-api-secret-token"]',
        'headers.authorization',
        'headers["x-telegram-bot-api-secret-token"]'
      ],
      censor: REDACTED
    },
    hooks: { streamWrite: (line) => scrubber.scrub(line) }
  }, stream ?? destination({ dest: 1, sync: false }))
}

/** What the rest of the code logs through: pino's methods, satisfied by pino and by Fastify's logger. */
export type Log = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>
