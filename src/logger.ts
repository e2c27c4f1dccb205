// pino, JSON to stdout. Two layers keep secrets out: `redact` drops the headers that carry them, and
// a last pass over every finished line replaces any secret that slipped into a message or an error
// (Telegraf's request URLs contain the bot token: /bot<token>/<method>).
import type { FastifyBaseLogger } from 'fastify'
import { destination, pino, stdSerializers, type Bindings, type ChildLoggerOptions, type DestinationStream, type Logger } from 'pino'

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

/**
 * pino's error serializer, without `rawPacket`: Node's HTTP parser puts the malformed request's raw
 * bytes there (secret header and bearer token included), and Fastify logs it at trace level. As an
 * array of numbers it would slip past the scrubber.
 */
function errWithoutRawBytes (err: Error): Record<string, unknown> {
  const { rawPacket: _bytes, ...rest } = stdSerializers.err(err) as unknown as Record<string, unknown>
  return rest
}

export function createLogger (scrubber: SecretScrubber, stream?: DestinationStream, level = 'info'): Logger {
  return pino({
    level,
    serializers: { err: errWithoutRawBytes },
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

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace'

/**
 * request.log, made a pino child (with the request's reqId) only when the request logs its first
 * line. Fastify otherwise makes that child for every request, and an update that is simply acked
 * logs nothing: the child was the largest logging cost left on the update path. Same lines either way.
 */
export class LazyRequestLogger implements FastifyBaseLogger {
  readonly #parent: FastifyBaseLogger
  readonly #bindings: Bindings
  readonly #options: ChildLoggerOptions
  #child: FastifyBaseLogger | undefined

  constructor (parent: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions) {
    this.#parent = parent
    this.#bindings = bindings
    this.#options = options
  }

  #logger (): FastifyBaseLogger {
    this.#child ??= this.#parent.child(this.#bindings, this.#options)
    return this.#child
  }

  #write (level: Level, args: unknown[]): void {
    const logger = this.#logger()
    ;(logger[level] as (...args: unknown[]) => void).apply(logger, args)
  }

  get level (): string {
    return this.#child?.level ?? this.#options.level ?? this.#parent.level
  }

  set level (level: string) {
    this.#logger().level = level
  }

  fatal (...args: unknown[]): void { this.#write('fatal', args) }
  error (...args: unknown[]): void { this.#write('error', args) }
  warn (...args: unknown[]): void { this.#write('warn', args) }
  info (...args: unknown[]): void { this.#write('info', args) }
  debug (...args: unknown[]): void { this.#write('debug', args) }
  trace (...args: unknown[]): void { this.#write('trace', args) }
  silent (): void {}

  child (bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.#logger().child(bindings, options)
  }
}

/**
 * Fastify's `childLoggerFactory` option: request.log as a LazyRequestLogger, a child of `logger`
 * (not of the logger Fastify passes in, which is a no-op when Fastify has no logger of its own).
 */
export function lazyRequestLoggerFactory (logger: FastifyBaseLogger): (parent: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions) => FastifyBaseLogger {
  return (_parent, bindings, options) => new LazyRequestLogger(logger, bindings, options)
}

/** What the rest of the code logs through: pino's methods, satisfied by pino and by Fastify's logger. */
export type Log = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>

/** How often a warning that a client can repeat at will is written, at most: once a minute. */
export const REPEATED_WARNING_INTERVAL_MS = 60_000

/**
 * A warning that anyone can trigger as often as they like (a wrong webhook secret, a wrong admin
 * token). The first is written at once; the ones after it within the interval are counted and
 * written as one line when it ends, with the last one's fields. A flood of guesses costs one line a
 * minute, not one line a guess.
 */
export class RepeatedWarning {
  readonly #log: Log
  readonly #msg: string
  readonly #intervalMs: number
  #timer: NodeJS.Timeout | undefined
  #repeats = 0
  #last: Record<string, unknown> = {}

  constructor (log: Log, msg: string, intervalMs = REPEATED_WARNING_INTERVAL_MS) {
    this.#log = log
    this.#msg = msg
    this.#intervalMs = intervalMs
  }

  note (fields: Record<string, unknown>): void {
    if (this.#timer !== undefined) {
      this.#repeats++
      this.#last = fields
      return
    }
    this.#log.warn(fields, this.#msg)
    this.#startInterval()
  }

  /** Writes what was counted so far (at shutdown). */
  flush (): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    if (this.#repeats === 0) return
    const seconds = Math.round(this.#intervalMs / 1000)
    this.#log.warn({ ...this.#last, repeated: this.#repeats }, `${this.#msg}: ${this.#repeats} more within ${seconds} s (the fields are the last one's)`)
    this.#repeats = 0
  }

  #startInterval (): void {
    this.#timer = setTimeout(() => {
      const repeated = this.#repeats > 0
      this.flush()
      // Still going on: keep counting, one line per interval.
      if (repeated) this.#startInterval()
    }, this.#intervalMs)
    this.#timer.unref()
  }
}
