// A scriptable stand-in for the Bot API on 127.0.0.1: records every call, answers like Telegram by
// default, and lets a test replace any method's answer (an error, a delay, a dropped connection).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export const FAKE_TOKEN = '123456789:TEST-fake-token_for_tests_only_00000'
export const FAKE_BOT = { id: 123456789, is_bot: true as const, first_name: 'Test Bot', username: 'test_ingress_bot', can_join_groups: true, can_read_all_group_messages: false, supports_inline_queries: false }

export interface ApiCall {
  method: string
  token: string
  params: Record<string, unknown>
}

/** An answer: a result (ok:true), a Telegram error, or 'drop' to destroy the socket. */
export type Answer = { result: unknown } | { error_code: number, description: string, parameters?: Record<string, unknown> } | 'drop'
export type Responder = (call: ApiCall) => Answer | Promise<Answer>

export interface WebhookSettings {
  url: string
  max_connections?: number
  allowed_updates?: string[]
  secret_token?: string
  pending_update_count: number
  last_error_date?: number
  last_error_message?: string
}

export interface FakeBotApi {
  apiRoot: string
  calls: ApiCall[]
  webhook: WebhookSettings
  /** Replace a method's answer; the default behaviour returns when `responder` is removed. */
  on: (method: string, responder: Responder) => void
  callsOf: (method: string) => ApiCall[]
  close: () => Promise<void>
}

async function readParams (req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  const text = Buffer.concat(chunks).toString('utf8')
  if (text === '') return {}
  if ((req.headers['content-type'] ?? '').includes('json')) return JSON.parse(text) as Record<string, unknown>
  return Object.fromEntries(new URLSearchParams(text))
}

export async function startFakeBotApi (): Promise<FakeBotApi> {
  const calls: ApiCall[] = []
  const responders = new Map<string, Responder>()
  const webhook: WebhookSettings = { url: '', pending_update_count: 0 }
  let messageId = 0

  const defaults: Record<string, Responder> = {
    getMe: () => ({ result: FAKE_BOT }),
    getWebhookInfo: () => ({ result: { has_custom_certificate: false, ...webhook, secret_token: undefined } }),
    setWebhook: ({ params }) => {
      webhook.url = String(params.url)
      webhook.secret_token = params.secret_token as string | undefined
      if (params.max_connections !== undefined) webhook.max_connections = Number(params.max_connections)
      if (params.allowed_updates !== undefined) webhook.allowed_updates = params.allowed_updates as string[]
      return { result: true }
    },
    deleteWebhook: () => {
      webhook.url = ''
      return { result: true }
    },
    getUpdates: () => ({ result: [] }),
    sendMessage: ({ params }) => ({ result: { message_id: ++messageId, date: Math.floor(Date.now() / 1000), chat: { id: params.chat_id, type: 'private' }, text: params.text } }),
    sendChatAction: () => ({ result: true }),
    answerCallbackQuery: () => ({ result: true })
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    (async () => {
      const match = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec(req.url?.split('?')[0] ?? '')
      if (match === null) {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: false, error_code: 404, description: 'Not Found' }))
        return
      }
      const call: ApiCall = { token: match[1] ?? '', method: match[2] ?? '', params: await readParams(req) }
      calls.push(call)
      const responder = responders.get(call.method) ?? defaults[call.method] ?? (() => ({ error_code: 404, description: 'Not Found: method not found' }))
      const answer = await responder(call)
      if (answer === 'drop') {
        req.socket.destroy()
        return
      }
      const body = 'result' in answer ? { ok: true, result: answer.result } : { ok: false, ...answer }
      res.writeHead('result' in answer ? 200 : answer.error_code, { 'content-type': 'application/json' }).end(JSON.stringify(body))
    })().catch(() => { res.destroy() })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo

  return {
    apiRoot: `http://127.0.0.1:${port}`,
    calls,
    webhook,
    on: (method, responder) => { responders.set(method, responder) },
    callsOf: (method) => calls.filter((c) => c.method === method),
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}
