// One shape for every error answer, `{statusCode, error, message}` (Fastify's own), and one place that
// turns Fastify's parser errors into sentences naming what is wrong. 5xx bodies never carry internals.
import { maxHeaderSize, METHODS, STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ServerLimits } from '../server-limits.js'

export const BODY_LIMIT_BYTES = 1024 * 1024

/** The sentences for the refusals Fastify finds (content type, size, JSON) and for the 405s. */
export const refusal = {
  method: (method: string | undefined, url: string | undefined, allow: string): string => `${method ?? 'This method'} is not allowed on ${url ?? 'this path'}: use ${allow}`,
  mediaType: (got: string | undefined): string => `Content-Type must be application/json (got ${got ?? 'none'})`,
  tooLarge: `Body is larger than ${BODY_LIMIT_BYTES} bytes (Telegram sends updates of at most 512 KiB)`,
  emptyJson: 'Body is empty but Content-Type is application/json: send a JSON object',
  invalidJson: (detail: string): string => `Body is not valid JSON: ${detail}`,
  malformed: (reason: string): string => `Malformed HTTP request: ${reason}`,
  tooLate: (limits: Pick<ServerLimits, 'headersTimeoutMs' | 'requestTimeoutMs'>): string => `Request not received in time: the headers must arrive within ${limits.headersTimeoutMs / 1000} s and the whole request within ${limits.requestTimeoutMs / 1000} s`,
  headersTooLarge: `Request headers larger than ${maxHeaderSize} bytes`,
  expectation: 'Only "Expect: 100-continue" is supported: send the request without this Expect header',
  prototypeKey: 'Body has a "__proto__" key or a "constructor" key holding "prototype": refused (prototype pollution)'
}

function errorObject (statusCode: number, message: string): { statusCode: number, error: string, message: string } {
  return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message }
}

export function sendError (reply: FastifyReply, statusCode: number, message: string): FastifyReply {
  return reply.code(statusCode).send(errorObject(statusCode, message))
}

/** Node's parser error: llhttp's code (HPE_...) and its reason, a fixed phrase such as "Duplicate Content-Length". */
type ClientError = Error & { code?: string, reason?: string }

function clientErrorAnswer (err: ClientError, limits: Pick<ServerLimits, 'headersTimeoutMs' | 'requestTimeoutMs'>): [number, string, string] {
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return [408, refusal.tooLate(limits), 'client timeout']
  if (err.code === 'HPE_HEADER_OVERFLOW') return [431, refusal.headersTooLarge, 'client header_overflow']
  // llhttp's reason for it is "Pause on PRI/Upgrade".
  if (err.code === 'HPE_PAUSED_H2_UPGRADE') return [400, refusal.malformed('HTTP/2 without TLS is not served here: use HTTP/1.1'), 'client error']
  return [400, refusal.malformed(err.reason ?? err.code ?? 'unreadable'), 'client error']
}

/**
 * Fastify's clientErrorHandler, for the requests Node refuses before any route (its parser, its
 * deadlines): the same answer, in our shape, with a message naming the problem where Fastify's says
 * "Client Error" or "Client Timeout". The trace line stays Fastify's (the logger drops rawPacket).
 */
export function clientErrorHandler (limits: Pick<ServerLimits, 'headersTimeoutMs' | 'requestTimeoutMs'>): (this: FastifyInstance, err: ClientError, socket: Duplex) => void {
  return function (err, socket) {
    if (err.code === 'ECONNRESET' || socket.destroyed) return
    const [statusCode, message, label] = clientErrorAnswer(err, limits)
    this.log.trace({ err }, label)
    const body = JSON.stringify(errorObject(statusCode, message))
    if (socket.writable) socket.write(`HTTP/1.1 ${statusCode} ${STATUS_CODES[statusCode] ?? ''}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`)
    socket.destroy(err)
  }
}

/**
 * Node's 'checkExpectation': an Expect header other than 100-continue. Node would answer 417 with
 * no body; this one says what to do. The request never reaches a route.
 */
export function expectationFailed (_request: IncomingMessage, response: ServerResponse): void {
  const body = JSON.stringify(errorObject(417, refusal.expectation))
  response.writeHead(417, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), connection: 'close' }).end(body)
}

/**
 * Node's HTTP methods that Fastify does not route by default (PROPFIND, LOCK, ...), made known to it
 * so that methodNotAllowed covers them too. CONNECT never reaches a route (Node emits 'connect').
 */
export function routeEveryMethod (app: FastifyInstance): void {
  for (const method of METHODS) {
    if (method !== 'CONNECT' && !app.supportedMethods.includes(method)) app.addHttpMethod(method, { hasBody: true })
  }
}

/** Registers `allowed` elsewhere; every other method on `url` gets 405 with Allow (Fastify would 404). */
export function methodNotAllowed (app: FastifyInstance, url: string, allowed: string[]): void {
  const others = app.supportedMethods.filter((m) => !allowed.includes(m))
  const allow = allowed.join(', ')
  app.route({
    method: others,
    url,
    exposeHeadRoute: false,
    // Answered in onRequest, before any body is parsed, so a body of any type still gets its 405.
    onRequest: async (request, reply) => sendError(reply.header('Allow', allow), 405, refusal.method(request.method, request.url, allow)),
    handler: async (_request, reply) => reply
  })
}

function clientMessage (error: FastifyError, request: FastifyRequest): string {
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return refusal.mediaType(request.headers['content-type'])
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return refusal.tooLarge
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return refusal.emptyJson
    default:
      return error.message
  }
}

/** A JSON body the parser refused, named as Fastify's own refusal so the log lines stay the same. */
function refusedJson (body: string): FastifyError {
  let message = refusal.prototypeKey
  try {
    JSON.parse(body)
  } catch (err) {
    message = refusal.invalidJson(err instanceof Error ? err.message : String(err))
  }
  return Object.assign(new Error(message), { code: 'FST_ERR_CTP_INVALID_JSON_BODY', statusCode: 400, name: 'FastifyError' })
}

/**
 * Fastify's own JSON parser and settings (secure-json-parse; __proto__ and constructor.prototype
 * refused), with the reason of a refusal kept: Fastify 5 answers every one with the same sentence,
 * "Body is not valid JSON", even for valid JSON that has a __proto__ key. A refused body is parsed
 * once more to find out which; an accepted one costs what it did.
 */
export function installJsonParser (app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error') as (request: FastifyRequest, body: string, done: (err: Error | null, value?: unknown) => void) => void
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    parse(request, body as string, (err, value) => {
      if (err === null || (err as FastifyError).code !== 'FST_ERR_CTP_INVALID_JSON_BODY') done(err, value)
      else done(refusedJson(body as string), undefined)
    })
  })
}

export function installErrorHandlers (app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const statusCode = error.statusCode !== undefined && error.statusCode >= 400 ? error.statusCode : 500
    if (statusCode >= 500) {
      request.log.error({ err: error, method: request.method, url: request.url }, 'request failed')
      return sendError(reply, statusCode, 'Internal Server Error')
    }
    request.log.info({ method: request.method, url: request.url, status: statusCode, code: error.code }, 'request rejected')
    return sendError(reply, statusCode, clientMessage(error, request))
  })
  app.setNotFoundHandler((request, reply) => sendError(reply, 404, `No route ${request.method} ${request.url}: this service serves /telegram/webhook, /telegram/webhook-info, /telegram/set-webhook and /telegram/delete-webhook`))
}
