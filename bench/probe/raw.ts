// Raw TCP connections to the service, for what no HTTP client does on purpose: send half a request
// and trickle the rest, open connections and say nothing, send bytes that are not quite HTTP.
import { connect, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'

export interface RawConnection {
  socket: Socket
  openedAt: number
  /** When the service closed it (or it failed); undefined while open. */
  closedAt: number | undefined
  /** What the service sent, one character a byte. */
  received: () => string
  /** Settles once connected, or once closed without connecting (a refused connection). */
  connected: Promise<void>
  closed: Promise<void>
}

/** Connects to 127.0.0.1:port and writes `first` once connected. */
export function openRaw (port: number, first?: string | Buffer): RawConnection {
  const socket = connect(port, '127.0.0.1')
  const chunks: string[] = []
  socket.setEncoding('latin1')
  socket.on('data', (chunk: string) => chunks.push(chunk))
  socket.on('error', () => {}) // a refused or reset connection is a result here, not a failure
  const connected = new Promise<void>((resolve) => {
    socket.once('connect', () => {
      if (first !== undefined) socket.write(first)
      resolve()
    })
    socket.once('close', () => { resolve() })
  })
  const conn: RawConnection = {
    socket,
    openedAt: Date.now(),
    closedAt: undefined,
    received: () => chunks.join(''),
    connected,
    closed: new Promise((resolve) => socket.once('close', () => {
      conn.closedAt = Date.now()
      resolve()
    }))
  }
  return conn
}

/** Opens `count` connections, `batch` at a time a few ms apart, so the listen queue never overflows. */
export async function openMany (port: number, count: number, first?: (i: number) => string | Buffer, batch = 100): Promise<RawConnection[]> {
  const conns: RawConnection[] = []
  for (let i = 0; i < count; i++) {
    conns.push(openRaw(port, first?.(i)))
    if ((i + 1) % batch === 0) await sleep(20)
  }
  await Promise.all(conns.map(async (c) => { await c.connected }))
  return conns
}

/** The status codes of the HTTP answers in what a connection received, in order. */
export function statusesIn (text: string): number[] {
  return [...text.matchAll(/HTTP\/1\.[01] (\d{3}) /g)].map((m) => Number(m[1]))
}
