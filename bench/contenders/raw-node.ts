// The floor's route without Fastify: Node's own server reads the body, JSON.parse, the secret check,
// 200. Not in the default run; it measures what Fastify's per-request pipeline costs (the reason
// this service serves its webhook before Fastify's router):
//   node dist/bench/bench/ab.js --a contenders/raw-node.js --b contenders/bare-fastify.js
import { createServer } from 'node:http'
import { counter, onStop, PORT, SECRET } from './common.js'

const secret = SECRET()
const server = createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/telegram/webhook') {
    res.writeHead(404).end()
    return
  }
  if (req.headers['x-telegram-bot-api-secret-token'] !== secret) {
    res.writeHead(401).end()
    return
  }
  let body = ''
  req.setEncoding('utf8')
  req.on('data', (chunk: string) => { body += chunk })
  req.on('end', () => {
    let update: { update_id?: unknown } | null
    try {
      update = JSON.parse(body) as { update_id?: unknown } | null
    } catch {
      res.writeHead(400).end()
      return
    }
    if (typeof update?.update_id !== 'number') {
      res.writeHead(400).end()
      return
    }
    counter.handled++
    res.writeHead(200, { 'content-length': '0' }).end()
  })
})
onStop(async () => {
  await new Promise((resolve) => server.close(resolve))
  return undefined
})
server.listen(PORT, '127.0.0.1')
