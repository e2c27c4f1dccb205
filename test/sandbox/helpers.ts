// Shared pieces for the emulator's tests: an emulator closed on teardown, a Bot API caller, and a
// scriptable webhook receiver on 127.0.0.1 that records every POST.
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Update } from 'telegraf/types'
import { startEmulator, type Emulator, type EmulatorOptions } from '../../sandbox/emulator.js'
import { pause, waitUntil } from '../helpers/wait.js'

export const TOKEN = '123456789:SANDBOX_sandbox_SANDBOX_sandbox_SAN'
export const BOT_ID = 123456789

interface Teardown {
  teardown: (fn: () => unknown) => void
}

export async function emulatorFor (t: Teardown, options: EmulatorOptions = {}): Promise<Emulator> {
  const emulator = await startEmulator({ local: true, timeScale: 0.01, ...options })
  t.teardown(() => emulator.close())
  return emulator
}

export interface ApiResponse {
  status: number
  headers: Headers
  body: { ok: boolean, result?: unknown, description?: string, error_code?: number, parameters?: { retry_after: number } }
}

/** Calls a Bot API method with a JSON body, as Telegraf does. */
export async function callApi (apiRoot: string, method: string, params: Record<string, unknown> = {}, token = TOKEN): Promise<ApiResponse> {
  const response = await fetch(`${apiRoot}/bot${token}/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(params)
  })
  return { status: response.status, headers: response.headers, body: await response.json() as ApiResponse['body'] }
}

export interface ReceivedPost {
  update: Update
  headers: http.IncomingHttpHeaders
  /** ms since the receiver started. */
  at: number
}

/** How the receiver answers one POST. */
export interface Reply {
  status?: number
  headers?: Record<string, string>
  body?: unknown
  /** Wait this long before answering. */
  delayMs?: number
  /** Close the socket without answering. */
  hangUp?: boolean
}

export type Script = (post: ReceivedPost, index: number) => Reply

export interface Receiver {
  url: string
  posts: ReceivedPost[]
  /** The highest number of POSTs this receiver had open at once. */
  maxOpen: () => number
  waitForPosts: (count: number, timeoutMs?: number) => Promise<ReceivedPost[]>
  close: () => Promise<void>
}

export async function receiverFor (t: Teardown, script: Script = () => ({})): Promise<Receiver> {
  const posts: ReceivedPost[] = []
  const started = Date.now()
  let open = 0
  let maxOpen = 0
  const server = http.createServer((req, res) => {
    open++
    maxOpen = Math.max(maxOpen, open)
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const post: ReceivedPost = { update: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Update, headers: req.headers, at: Date.now() - started }
      posts.push(post)
      const reply = script(post, posts.length - 1)
      setTimeout(() => {
        open--
        if (reply.hangUp === true) {
          req.socket.destroy()
          return
        }
        const body = reply.body === undefined ? '' : JSON.stringify(reply.body)
        res.writeHead(reply.status ?? 200, { 'content-type': 'application/json', ...reply.headers })
        res.end(body)
      }, reply.delayMs ?? 0)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const close = async (): Promise<void> => {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => { resolve() }))
  }
  t.teardown(close)
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/telegram/webhook`,
    posts,
    maxOpen: () => maxOpen,
    waitForPosts: async (count, timeoutMs = 3000) => await waitUntil(() => posts.length >= count, timeoutMs, () => `${count} POSTs (got ${posts.length})`).then(() => posts),
    close
  }
}

export { pause, waitUntil }

export const updateIds = (posts: ReceivedPost[]): number[] => posts.map((post) => post.update.update_id)
export const textsOf = (posts: ReceivedPost[]): string[] =>
  posts.map((post) => ('message' in post.update && 'text' in post.update.message ? post.update.message.text : ''))
