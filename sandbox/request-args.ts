/**
 * The arguments of one Bot API call, however they came: query string, JSON, urlencoded or
 * multipart. Like the real server, every argument is kept as text (a JSON body's non-string
 * values become their JSON text), and each method reads what it needs with Telegram's rules.
 */
import type { IncomingMessage } from 'node:http'
import { BotApiError, badRequest } from './api-error.js'
import { boundaryOf, parseMultipart } from './multipart.js'

export interface UploadedFile {
  field: string
  filename: string
  contentType: string
  size: number
}

export class RequestArgs {
  constructor (
    private readonly values: ReadonlyMap<string, string>,
    private readonly files: ReadonlyMap<string, UploadedFile> = new Map(),
    private readonly sent: ReadonlyMap<string, unknown> = values
  ) {}

  /** Telegram treats a missing argument and an empty one alike: both read as ''. */
  string (name: string): string {
    return this.values.get(name) ?? ''
  }

  has (name: string): boolean {
    return this.string(name) !== ''
  }

  /** Telegram's get_integer_arg: default when missing, leading integer otherwise, then clamped. */
  int (name: string, fallback: number, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number {
    const text = this.string(name)
    const value = text === '' ? fallback : leadingInteger(text)
    return Math.min(max, Math.max(min, value))
  }

  /** Telegram's to_bool: "true", "yes" or "1", case-insensitive. */
  bool (name: string): boolean {
    return ['true', 'yes', '1'].includes(this.string(name).trim().toLowerCase())
  }

  /** A JSON-valued argument (reply_markup, allowed_updates...), or undefined if absent or bad. */
  json (name: string): unknown {
    const text = this.string(name)
    if (text === '') return undefined
    try {
      return JSON.parse(text)
    } catch {
      return undefined
    }
  }

  /** The file part for `name`, following an "attach://<part>" reference as Telegram does. */
  file (name: string): UploadedFile | undefined {
    const value = this.string(name)
    const attached = value.startsWith('attach://') ? value.slice('attach://'.length) : name
    return this.files.get(attached)
  }

  toRecord (): Record<string, string> {
    return Object.fromEntries(this.values)
  }

  /**
   * The arguments as the client sent them: a JSON body's values keep their JSON types, so a test
   * can tell the number 40 from the text "40" (the server itself reads both as "40").
   */
  toParams (): Record<string, unknown> {
    return Object.fromEntries(this.sent)
  }
}

function leadingInteger (text: string): number {
  const match = /^\s*[-+]?\d+/.exec(text)
  return match === null ? 0 : Number.parseInt(match[0], 10)
}

function mergeObject (values: Map<string, string>, sent: Map<string, unknown>, object: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(object)) {
    if (value === undefined || value === null) continue
    values.set(key, typeof value === 'string' ? value : JSON.stringify(value))
    sent.set(key, value)
  }
}

/** Parses a body of any content type Bot API clients use; query-string args come first. */
export function parseArgs (contentType: string | undefined, body: Buffer, query?: URLSearchParams): RequestArgs {
  const values = new Map<string, string>(query ?? [])
  const files = new Map<string, UploadedFile>()
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? ''
  if (body.length === 0) return new RequestArgs(values, files)
  if (type === 'application/json') {
    const sent = new Map<string, unknown>(values)
    mergeJson(values, sent, body)
    return new RequestArgs(values, files, sent)
  }
  if (type === 'application/x-www-form-urlencoded') {
    for (const [key, value] of new URLSearchParams(body.toString('utf8'))) values.set(key, value)
  } else if (type === 'multipart/form-data') {
    mergeMultipart(values, files, contentType ?? '', body)
  }
  return new RequestArgs(values, files)
}

function mergeJson (values: Map<string, string>, sent: Map<string, unknown>, body: Buffer): void {
  let parsed: unknown
  try {
    parsed = JSON.parse(body.toString('utf8'))
  } catch {
    throw badRequest("can't parse JSON object")
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw badRequest('JSON object expected')
  }
  mergeObject(values, sent, parsed as Record<string, unknown>)
}

function mergeMultipart (
  values: Map<string, string>, files: Map<string, UploadedFile>, contentType: string, body: Buffer
): void {
  const boundary = boundaryOf(contentType)
  if (boundary === undefined) throw badRequest('multipart boundary is missing')
  for (const field of parseMultipart(body, boundary)) {
    if (field.filename === undefined) {
      values.set(field.name, field.data.toString('utf8'))
    } else {
      files.set(field.name, {
        field: field.name,
        filename: field.filename,
        contentType: field.contentType ?? 'application/octet-stream',
        size: field.data.length
      })
    }
  }
}

/** Reads a whole request body, refusing more than `limitBytes`. */
export async function readBody (request: IncomingMessage, limitBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of request) {
    const buffer = chunk as Buffer
    size += buffer.length
    if (size > limitBytes) throw new BotApiError(413, 'Request Entity Too Large')
    chunks.push(buffer)
  }
  return Buffer.concat(chunks)
}
