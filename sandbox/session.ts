/**
 * The whole webhook path on one machine: the Bot API emulator in local mode and the real ingress
 * in webhook mode, wired as production wires them (the ingress registers its own webhook through
 * its start-up path). Used by `npm run sandbox` and by the end-to-end tests.
 */
import net from 'node:net'
import type { DestinationStream } from 'pino'
import { startService, type RunningService, type StartOptions } from '../src/server.js'
import type { BotControl } from './control.js'
import { startEmulator, type Emulator } from './emulator.js'

/** Made up, shaped like a real token; the emulator accepts it, Telegram never sees it. */
export const SANDBOX_TOKEN = '123456789:SANDBOX_sandbox_SANDBOX_sandbox_SAN'

export interface SandboxOptions {
  /** Telegram time scale for the emulator (retry delays, timeouts). Default 1. */
  timeScale?: number
  /** Environment for the ingress on top of the sandbox's own; nothing is read from process.env. */
  env?: Record<string, string | undefined>
  /** Where the ingress logs; pino's default (stdout) when omitted. */
  logStream?: DestinationStream
  /** The bot's features; the product's own by default (tests add slow or failing ones). */
  features?: StartOptions['features']
  /**
   * The webhook URL the ingress registers, for tests that put something between the emulator and
   * the ingress. Default: the ingress's own /telegram/webhook.
   */
  webhookUrl?: (ingressPort: number) => string
}

export interface Sandbox {
  emulator: Emulator
  /** The control API of the sandbox bot: act as a user, read the bot's replies. */
  bot: BotControl
  service: RunningService
  /** The environment the ingress was started with. */
  env: Record<string, string | undefined>
  stop: () => Promise<void>
}

export async function startSandbox (options: SandboxOptions = {}): Promise<Sandbox> {
  const emulator = await startEmulator({ host: '127.0.0.1', local: true, timeScale: options.timeScale ?? 1 })
  try {
    const ingressPort = await freePort()
    const env = sandboxEnv(emulator.url, ingressPort, options)
    const service = await startService({
      env,
      ...(options.logStream !== undefined && { logStream: options.logStream }),
      ...(options.features !== undefined && { features: options.features })
    })
    return {
      emulator,
      bot: emulator.control.bot(SANDBOX_TOKEN),
      service,
      env,
      // Telegram goes first, so nothing new is delivered while the ingress drains.
      stop: async () => {
        await emulator.close()
        await service.stop()
      }
    }
  } catch (error) {
    await emulator.close()
    throw error
  }
}

function sandboxEnv (apiRoot: string, ingressPort: number, options: SandboxOptions): Record<string, string | undefined> {
  return {
    TELEGRAM_BOT_TOKEN: SANDBOX_TOKEN,
    TELEGRAM_USE_WEBHOOK: 'true',
    // A local Bot API server accepts plain http webhooks on any port (TELEGRAM.md).
    TELEGRAM_WEBHOOK_URL: options.webhookUrl?.(ingressPort) ?? `http://127.0.0.1:${ingressPort}/telegram/webhook`,
    TELEGRAM_API_ROOT: apiRoot,
    PORT: String(ingressPort),
    HOST: '127.0.0.1',
    ...options.env
  }
}

/**
 * A port that is free right now. The webhook URL must name the ingress's port before the ingress
 * starts, so PORT=0 cannot be used; another process could take the port in between, which on a
 * developer machine is rare enough.
 */
export async function freePort (): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  const { port } = server.address() as net.AddressInfo
  await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
  return port
}
