// The Bot API the probed services talk to: the sandbox's emulator on 127.0.0.1 (its scripting hooks
// make sendMessage hang), and, when openssl can make a certificate, the same emulator behind a TLS
// front, because the service bounds its Bot API sockets for an https:// root only (src/bot/index.ts).
import { connect, type AddressInfo } from 'node:net'
import { createServer } from 'node:tls'
import { startEmulator } from '../../sandbox/emulator.js'
import type { BotControl } from '../../sandbox/control.js'
import { selfSignedCertificate } from '../../test/helpers/tls.js'

export interface ProbeBotApi {
  /** http://127.0.0.1:port, the emulator itself. */
  httpRoot: string
  /** https://127.0.0.1:port and the certificate to trust, or undefined without openssl. */
  https: { root: string, caFile: string } | undefined
  control: (token: string) => BotControl
  close: () => Promise<void>
}

export async function startProbeBotApi (): Promise<ProbeBotApi> {
  const emulator = await startEmulator({ local: true, paceSetWebhook: false, botUsername: 'probe_ingress_bot' })
  const emulatorPort = Number(new URL(emulator.url).port)
  const certificate = selfSignedCertificate()
  // Also when the probe is interrupted (killStartedOnSignals exits at once).
  if (certificate !== undefined) process.once('exit', certificate.remove)
  // Each TLS connection gets its own plain one to the emulator, so the service's sockets are
  // counted at the front's port exactly as they would be at Telegram's.
  const front = certificate === undefined
    ? undefined
    : createServer({ key: certificate.key, cert: certificate.cert }, (client) => {
      const upstream = connect(emulatorPort, '127.0.0.1')
      const end = (): void => {
        client.destroy()
        upstream.destroy()
      }
      for (const side of [client, upstream]) {
        side.on('error', end)
        side.on('close', end)
      }
      client.pipe(upstream).pipe(client)
    })
  if (front !== undefined) await new Promise<void>((resolve) => { front.listen(0, '127.0.0.1', resolve) })
  return {
    httpRoot: emulator.url,
    https: front === undefined || certificate === undefined
      ? undefined
      : { root: `https://127.0.0.1:${(front.address() as AddressInfo).port}`, caFile: certificate.certFile },
    control: (token) => emulator.control.bot(token),
    close: async () => {
      if (front !== undefined) await new Promise<void>((resolve) => { front.close(() => { resolve() }) })
      await emulator.close()
      certificate?.remove()
    }
  }
}
