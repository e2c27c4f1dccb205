/**
 * The Bot API emulator as a process of its own, for a container next to the ingress's (the
 * deployment test, test/deploy/container.sh): `node --import tsx sandbox/emulator-server.ts`.
 *   EMULATOR_HOST  listen address, default 127.0.0.1 (0.0.0.0 inside a container)
 *   EMULATOR_PORT  default 8081 (telegram-bot-api's own default)
 * Local mode, like `telegram-bot-api --local`: the webhook may be plain http on any port, which is
 * what a test stack without certificates has. The control API is at /_sandbox/bot<token>/...
 */
import { startEmulator } from './emulator.js'

const DEFAULT_PORT = 8081

function portFrom (text: string | undefined): number {
  if (text === undefined || text === '') return DEFAULT_PORT
  const port = Number(text)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`EMULATOR_PORT must be a port number (got ${text})`)
  return port
}

const emulator = await startEmulator({
  host: process.env.EMULATOR_HOST === undefined || process.env.EMULATOR_HOST === '' ? '127.0.0.1' : process.env.EMULATOR_HOST,
  port: portFrom(process.env.EMULATOR_PORT),
  local: true
})
console.log(`Bot API emulator (local mode) at ${emulator.url}`)

// docker stop's SIGTERM: close the listener and the deliveries, then exit 0 like a clean stop.
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    emulator.close().then(() => { process.exit(0) }, () => { process.exit(1) })
  })
}
