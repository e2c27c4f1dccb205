/**
 * setWebhook's arguments, read and checked with Telegram's rules and texts (Client.cpp
 * process_set_webhook_query / do_set_webhook, WebhookActor::start_up).
 */
import { isIP } from 'node:net'
import { badRequest, type BotApiError } from './api-error.js'
import type { RequestArgs } from './request-args.js'

export interface WebhookSettings {
  url: string
  maxConnections: number
  secretToken: string
}

/** Like `telegram-bot-api --local`: http, any port and local addresses; up to 100000 connections. */
export interface ServerMode {
  local: boolean
}

/** Client.cpp get_webhook_max_connections: 40, or 100 for a local server. */
export function defaultMaxConnections (mode: ServerMode): number {
  return mode.local ? 100 : 40
}

// Out-of-range max_connections are clamped, not refused (get_webhook_max_connections).
export function readWebhookSettings (args: RequestArgs, url: string, mode: ServerMode): WebhookSettings {
  return {
    url,
    maxConnections: args.int('max_connections', defaultMaxConnections(mode), 1, mode.local ? 100_000 : 100),
    secretToken: args.string('secret_token')
  }
}

export function sameWebhook (current: WebhookSettings | undefined, next: WebhookSettings | undefined): boolean {
  if (current === undefined || next === undefined) return current === next
  return current.url === next.url &&
    current.maxConnections === next.maxConnections &&
    current.secretToken === next.secretToken
}

/** Checks a new webhook in Telegram's order; returns the URL to POST to. */
export function validateWebhook (settings: WebhookSettings, mode: ServerMode): URL {
  const url = parseWebhookUrl(settings.url)
  if (settings.secretToken.length > 256) throw badRequest('secret token is too long')
  if (!/^[A-Za-z0-9_-]*$/.test(settings.secretToken)) throw badRequest('secret token contains unallowed characters')
  if (!mode.local) checkPublicWebhook(url)
  return url
}

// td::parse_url with https as the default protocol: "example.com/hook" means https.
function parseWebhookUrl (text: string): URL {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `https://${text}`
  let url: URL
  try {
    url = new URL(withScheme)
  } catch {
    throw badRequest('invalid webhook URL specified')
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw badRequest('invalid webhook URL specified')
  return url
}

const WEBHOOK_PORTS = new Set(['', '443', '80', '88', '8443'])

// What the public Bot API refuses when it first tries the webhook, answered to setWebhook as
// "bad webhook: ..." (WebhookActor::start_up, check_ip_address).
function checkPublicWebhook (url: URL): void {
  if (url.protocol !== 'https:') throw badWebhook('An HTTPS URL must be provided for webhook')
  if (!WEBHOOK_PORTS.has(url.port)) throw badWebhook('Webhook can be set up only on ports 80, 88, 443 or 8443')
  const host = url.hostname.replace(/^\[|\]$/g, '')
  if (isIP(host) === 6) throw badWebhook('IPv6-only addresses are not allowed')
  if (host === 'localhost' || (isIP(host) === 4 && isReservedIpv4(host))) {
    throw badWebhook(`IP address ${host === 'localhost' ? '127.0.0.1' : host} is reserved`)
  }
}

function badWebhook (reason: string): BotApiError {
  return badRequest(`bad webhook: ${reason}`)
}

function isReservedIpv4 (ip: string): boolean {
  const [a = 0, b = 0] = ip.split('.').map(Number)
  return a === 0 || a === 10 || a === 127 || a >= 224 ||
    (a === 100 && b >= 64 && b <= 127) || (a === 169 && b === 254) ||
    (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)
}

/** getWebhookInfo's ip_address: Telegram shows the address it resolved the host to. */
export function webhookIpAddress (url: string): string {
  const host = parseWebhookUrl(url).hostname.replace(/^\[|\]$/g, '')
  if (isIP(host) !== 0) return host
  return host === 'localhost' ? '127.0.0.1' : '<unknown>'
}
