import t from 'tap'
import { createLogger, REDACTED, SecretScrubber } from '../src/logger.js'
import { LogCapture } from './helpers/log-capture.js'

const TOKEN = '123456789:TEST-fake-token_for_tests_only_00000'

t.test('secrets are replaced in messages, error messages and stacks, whole and in part', async (t) => {
  const scrubber = new SecretScrubber()
  scrubber.add([TOKEN, TOKEN.split(':')[1] ?? '', 'webhook_secret_value', 'admin-token-0123456789'])
  const logs = new LogCapture()
  const log = createLogger(scrubber, logs)
  const err = new Error(`request to http://127.0.0.1:1/bot${TOKEN}/getMe failed`)
  log.error({ err }, 'call failed')
  log.info(`half of it: ${TOKEN.split(':')[1] ?? ''}, secret webhook_secret_value, admin admin-token-0123456789`)
  log.info({ nested: { url: `/bot${TOKEN}/sendMessage` } }, 'nested')
  t.equal(logs.raw.length, 3)
  for (const line of logs.raw) {
    t.notOk(line.includes('TEST-fake-token'), line)
    t.notOk(line.includes('webhook_secret_value'))
    t.notOk(line.includes('admin-token-0123456789'))
  }
  t.match(logs.entries[0], { err: { message: `request to http://127.0.0.1:1/bot${REDACTED}/getMe failed` } })
  t.match(logs.entries[2], { nested: { url: `/bot${REDACTED}/sendMessage` } })
})

t.test('the secret and authorization headers are redacted by path', async (t) => {
  const logs = new LogCapture()
  const log = createLogger(new SecretScrubber(), logs)
  log.info({ req: { headers: { authorization: 'Bearer abc', 'x-telegram-bot-api-secret-token': 'xyz', host: 'h' } } }, 'request')
  t.match(logs.entries[0], { req: { headers: { authorization: REDACTED, 'x-telegram-bot-api-secret-token': REDACTED, host: 'h' } } })
})
