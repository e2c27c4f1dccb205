// Requests no HTTP client library would send: a generated request (test/helpers/fuzz-requests.ts)
// written out by hand with one thing broken in its framing (lengths that lie, two lengths, bad
// chunks, bare line feeds, a folded or nameless header, over 16 KiB of headers, an unknown HTTP
// version or expectation). Sent over a socket of its own, and the first answer is judged.
import fc from 'fast-check'
import { fuzzRequest, type FuzzRequest } from '../../test/helpers/fuzz-requests.js'

export interface RawRequest {
  bytes: Buffer
  /** The method, for the judge (a HEAD answer has no body). */
  method: string
  /** False where the client hangs up before its request is whole: no answer is owed. */
  answerOwed: boolean
  label: string
}

type Mutation = (r: FuzzRequest, n: number) => { head?: string[], lines?: string[], body?: Buffer, lineEnd?: string, whole?: string, answerOwed?: boolean }

const CHUNKED = 'Transfer-Encoding: chunked'

function chunk (body: Buffer): Buffer {
  return body.length === 0 ? Buffer.from('0\r\n\r\n') : Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')])
}

const MUTATIONS: Record<string, Mutation> = {
  'a Content-Length short of the body': (r, n) => ({ lines: [`Content-Length: ${Math.max(0, r.body.length - 1 - n % 20)}`] }),
  'a Content-Length past the body, then a hang-up': (r, n) => ({ lines: [`Content-Length: ${r.body.length + 1 + n % 1000}`], answerOwed: false }),
  'two different Content-Lengths': (r) => ({ lines: [`Content-Length: ${r.body.length}`, `Content-Length: ${r.body.length + 1}`] }),
  'Content-Length and chunked': (r) => ({ lines: [`Content-Length: ${r.body.length}`, CHUNKED], body: chunk(r.body) }),
  'a chunk size that is not hex': (r) => ({ lines: [CHUNKED], body: Buffer.concat([Buffer.from('zz\r\n'), r.body, Buffer.from('\r\n0\r\n\r\n')]) }),
  'chunked after another coding': (r) => ({ lines: ['Transfer-Encoding: gzip, chunked'], body: chunk(r.body) }),
  'chunked, then something else': (r) => ({ lines: ['Transfer-Encoding: chunked, identity'], body: chunk(r.body) }),
  'bare line feeds': (r) => ({ lines: [`Content-Length: ${r.body.length}`], lineEnd: '\n' }),
  'a header line without a colon': (r) => ({ lines: ['Whatever', `Content-Length: ${r.body.length}`] }),
  'a space in a header name': (r) => ({ lines: ['X Probe: 1', `Content-Length: ${r.body.length}`] }),
  'a control byte in a header value': (r, n) => ({ lines: [`X-Probe: a${String.fromCharCode(n % 31 === 9 ? 1 : n % 31)}b`, `Content-Length: ${r.body.length}`] }),
  'a folded header line': (r) => ({ lines: ['X-Probe: a', '  b', `Content-Length: ${r.body.length}`] }),
  'headers over 16 KiB': (r, n) => ({ lines: [`X-Probe: ${'a'.repeat(16_384 + n % 1000)}`, `Content-Length: ${r.body.length}`] }),
  'a negative Content-Length': () => ({ lines: ['Content-Length: -1'] }),
  'a Content-Length of 25 digits': () => ({ lines: [`Content-Length: ${'9'.repeat(25)}`] }),
  'HTTP/1.0': (r) => ({ head: [`${r.method} ${r.url} HTTP/1.0`], lines: [`Content-Length: ${r.body.length}`] }),
  'an absolute-form target': (r) => ({ head: [`${r.method} http://127.0.0.1${r.url} HTTP/1.1`], lines: [`Content-Length: ${r.body.length}`] }),
  'an unknown HTTP version': (r, n) => ({ head: [`${r.method} ${r.url} HTTP/${n % 2 === 0 ? '1.7' : '2.0'}`], lines: [`Content-Length: ${r.body.length}`] }),
  'a method that is not a token': (r) => ({ head: [`P@ST ${r.url} HTTP/1.1`], lines: [`Content-Length: ${r.body.length}`] }),
  'a NUL in the target': (r) => ({ head: [`${r.method} ${r.url}\0x HTTP/1.1`], lines: [`Content-Length: ${r.body.length}`] }),
  'an expectation the server does not know': (r) => ({ lines: ['Expect: tea', `Content-Length: ${r.body.length}`] }),
  'the HTTP/2 preface': () => ({ whole: 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n' }),
  'a request line, then a hang-up': (r) => ({ whole: `${r.method} ${r.url} HTTP/1.1\r\n`, answerOwed: false })
}

function headerLines (headers: FuzzRequest['headers']): string[] {
  return Object.entries(headers).flatMap(([name, value]) => (Array.isArray(value) ? value : [value]).map((v) => `${name}: ${v}`))
}

function render (r: FuzzRequest, mutation: string, n: number): RawRequest {
  const m = (MUTATIONS[mutation] as Mutation)(r, n)
  const label = `${mutation}: ${r.label}`
  if (m.whole !== undefined) return { bytes: Buffer.from(m.whole, 'latin1'), method: r.method, answerOwed: m.answerOwed ?? true, label }
  const end = m.lineEnd ?? '\r\n'
  // Connection: close, so the service closes the socket after its answer and the reader knows
  // the answer is whole.
  const lines = [...(m.head ?? [`${r.method} ${r.url} HTTP/1.1`]), 'Host: 127.0.0.1', 'Connection: close', ...headerLines(r.headers), ...(m.lines ?? [])]
  return {
    bytes: Buffer.concat([Buffer.from(lines.join(end) + end + end, 'latin1'), m.body ?? r.body]),
    method: r.method,
    answerOwed: m.answerOwed ?? true,
    label
  }
}

export function rawRequest (secret: string): fc.Arbitrary<RawRequest> {
  return fc.tuple(fuzzRequest(secret), fc.constantFrom(...Object.keys(MUTATIONS)), fc.nat())
    .map(([r, mutation, n]) => render(r, mutation, n))
}

/** The first final answer (1xx skipped) in what the connection received, one character a byte. */
export function firstAnswer (text: string): { status: number, body: string } | undefined {
  let rest = text
  for (;;) {
    const end = rest.indexOf('\r\n\r\n')
    if (end < 0) return undefined
    const head = rest.slice(0, end)
    const status = Number(/^HTTP\/1\.[01] (\d{3}) /.exec(head)?.[1] ?? 0)
    rest = rest.slice(end + 4)
    if (status === 0) return { status: 0, body: head.slice(0, 80) }
    if (status < 200) continue
    const length = /\r\ncontent-length: *(\d+)/i.exec(head)?.[1]
    if (length !== undefined) return { status, body: rest.slice(0, Number(length)) }
    return { status, body: /\r\ntransfer-encoding: *chunked/i.test(head) ? dechunk(rest) : rest }
  }
}

function dechunk (text: string): string {
  let body = ''
  let rest = text
  for (;;) {
    const line = rest.indexOf('\r\n')
    const size = parseInt(rest.slice(0, line), 16)
    if (line < 0 || !Number.isFinite(size) || size === 0) return body
    body += rest.slice(line + 2, line + 2 + size)
    rest = rest.slice(line + 2 + size + 2)
  }
}
