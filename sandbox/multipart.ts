/**
 * A small multipart/form-data reader: enough for what Bot API clients send (text fields and file
 * parts). File bytes are counted, not kept: the emulator only needs to know a file was uploaded.
 */
export interface MultipartField {
  name: string
  /** Present for file parts. */
  filename?: string
  contentType?: string
  data: Buffer
}

const CRLF = Buffer.from('\r\n')
const HEADER_END = Buffer.from('\r\n\r\n')

export function boundaryOf (contentType: string): string | undefined {
  const match = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType)
  return match?.[1] ?? match?.[2]?.trim()
}

export function parseMultipart (body: Buffer, boundary: string): MultipartField[] {
  const delimiter = Buffer.from(`--${boundary}`)
  const fields: MultipartField[] = []
  let cursor = body.indexOf(delimiter)
  while (cursor !== -1) {
    const partStart = cursor + delimiter.length
    // "--boundary--" closes the body.
    if (body.subarray(partStart, partStart + 2).toString() === '--') break
    const next = body.indexOf(delimiter, partStart)
    if (next === -1) break
    const field = parsePart(body.subarray(skipCrlf(body, partStart), trimTrailingCrlf(body, next)))
    if (field !== undefined) fields.push(field)
    cursor = next
  }
  return fields
}

function skipCrlf (body: Buffer, at: number): number {
  return body.subarray(at, at + 2).equals(CRLF) ? at + 2 : at
}

function trimTrailingCrlf (body: Buffer, end: number): number {
  return body.subarray(end - 2, end).equals(CRLF) ? end - 2 : end
}

function parsePart (part: Buffer): MultipartField | undefined {
  const headerEnd = part.indexOf(HEADER_END)
  if (headerEnd === -1) return undefined
  const headers = parseHeaders(part.subarray(0, headerEnd).toString('utf8'))
  const disposition = headers.get('content-disposition') ?? ''
  const name = dispositionParam(disposition, 'name')
  if (name === undefined) return undefined
  const field: MultipartField = { name, data: part.subarray(headerEnd + HEADER_END.length) }
  const filename = dispositionParam(disposition, 'filename')
  if (filename !== undefined) field.filename = filename
  const contentType = headers.get('content-type')
  if (contentType !== undefined) field.contentType = contentType
  return field
}

// Header lines as clients write them; Telegraf writes "content-disposition:form-data; ..." with
// no space after the colon, so the value is trimmed rather than split on ": ".
function parseHeaders (text: string): Map<string, string> {
  const headers = new Map<string, string>()
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':')
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim())
  }
  return headers
}

function dispositionParam (disposition: string, param: string): string | undefined {
  const match = new RegExp(`(?:^|;)\\s*${param}="([^"]*)"`, 'i').exec(disposition)
  return match?.[1]
}
