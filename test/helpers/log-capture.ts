import { Writable } from 'node:stream'

/** A pino destination that keeps every line, raw and parsed, for assertions. */
export class LogCapture extends Writable {
  readonly raw: string[] = []

  override _write (chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    for (const line of chunk.toString('utf8').split('\n')) if (line !== '') this.raw.push(line)
    callback()
  }

  get entries (): Array<Record<string, unknown>> {
    return this.raw.map((line) => JSON.parse(line) as Record<string, unknown>)
  }

  /** Entries whose msg contains `text`. */
  find (text: string): Array<Record<string, unknown>> {
    return this.entries.filter((e) => typeof e.msg === 'string' && e.msg.includes(text))
  }

  get text (): string {
    return this.raw.join('\n')
  }
}
