// What every contender process is started with: the same token, secret and webhook URL, the Bot API
// stub as TELEGRAM_API_ROOT, realistic logging (info), and where to report when it stops.
export const TOKEN = '123456:BENCHtokenBENCHtokenBENCHtoken_0123'
export const SECRET = 'bench_secret_token_0123456789'
export const WEBHOOK_URL = 'https://bench.example.com/telegram/webhook'

export function contenderEnv (port: number, stubUrl: string, statsFile: string, extra: Record<string, string>): NodeJS.ProcessEnv {
  // The runner's own settings must not leak into a contender: TELEGRAM_*, BENCH_*, and the durable
  // mode's (a DATABASE_URL in the shell would turn every in-memory contender durable; PG* are libpq's).
  const leaks = (k: string): boolean => ['TELEGRAM_', 'BENCH_', 'WORKER_', 'PG'].some((prefix) => k.startsWith(prefix)) || k === 'DATABASE_URL'
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !leaks(k)))
  return {
    ...inherited,
    PORT: String(port),
    HOST: '127.0.0.1',
    TELEGRAM_BOT_TOKEN: TOKEN,
    TELEGRAM_WEBHOOK_SECRET: SECRET,
    TELEGRAM_WEBHOOK_URL: WEBHOOK_URL,
    TELEGRAM_API_ROOT: stubUrl,
    LOG_LEVEL: 'info',
    SHUTDOWN_TIMEOUT_MS: '300000',
    BENCH_STATS_FILE: statsFile,
    ...extra
  }
}
