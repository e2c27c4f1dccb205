// A self-signed certificate for 127.0.0.1, for an https stand-in of the Bot API: the tests show a
// client refusing it, the probe (bench/probe) makes the service trust it with NODE_EXTRA_CA_CERTS.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface Certificate {
  key: Buffer
  cert: Buffer
  /** The certificate's file, for NODE_EXTRA_CA_CERTS. */
  certFile: string
  remove: () => void
}

/** Made with openssl, valid for a day; undefined when openssl is not installed. */
export function selfSignedCertificate (): Certificate | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'ingress-tls-'))
  const remove = (): void => { rmSync(dir, { recursive: true, force: true }) }
  const keyFile = join(dir, 'key.pem')
  const certFile = join(dir, 'cert.pem')
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', keyFile, '-out', certFile], { stdio: 'ignore' })
  } catch {
    remove()
    return undefined
  }
  return { key: readFileSync(keyFile), cert: readFileSync(certFile), certFile, remove }
}
