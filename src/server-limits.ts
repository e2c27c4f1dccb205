// Every connection's deadlines and the cap on open connections, in one place. Telegram opens at
// most 100 connections (max_connections) and sends one update of at most 512 KiB per request, so
// anything slower or more numerous than this is not Telegram, and only costs descriptors.
export interface ServerLimits {
  /**
   * Receiving one whole request, headers and body (Node's requestTimeout). A 1 MiB body at
   * Telegram's speed takes well under a second. Not the answer: that waits for the bot's budget.
   */
  requestTimeoutMs: number
  /** Receiving the headers (Node's headersTimeout); at most requestTimeoutMs. */
  headersTimeoutMs: number
  /**
   * An idle keep-alive connection is closed after this. Above Caddy's upstream keep-alive (60 s in
   * the Caddyfile), so Caddy drops an idle connection first and never sends on one we closed.
   */
  keepAliveTimeoutMs: number
  /** No byte either way for this long ends any connection; above the longest wait for an answer (60 s). */
  idleTimeoutMs: number
  /** How often Node looks for requests past their deadlines. */
  checkIntervalMs: number
  /** Open connections, at most; a further one is closed at once, and logged (HTTP_MAX_CONNECTIONS). */
  maxConnections: number
}

export const SERVER_LIMITS: ServerLimits = {
  requestTimeoutMs: 30_000,
  headersTimeoutMs: 10_000,
  keepAliveTimeoutMs: 72_000,
  idleTimeoutMs: 120_000,
  checkIntervalMs: 1_000,
  maxConnections: 1024
}
