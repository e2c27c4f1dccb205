import t from 'tap'
import { TelegramError } from 'telegraf'
import { describeError, isRetryable, retryAfterSeconds, withoutTokens } from '../../src/telegram/errors.js'
import { FAKE_TOKEN } from '../helpers/bot-api.js'

t.test('descriptions of failed calls never carry a token', async (t) => {
  const network = new Error(`request to http://127.0.0.1:1/bot${FAKE_TOKEN}/getMe failed, reason: connect ECONNREFUSED`)
  t.equal(describeError(network), 'Telegram could not be reached: request to http://127.0.0.1:1/bot<token>/getMe failed, reason: connect ECONNREFUSED')
  t.equal(withoutTokens(`a ${FAKE_TOKEN} b`), 'a <token> b')
  const answered = new TelegramError({ error_code: 400, description: 'Bad Request: chat not found' })
  t.equal(describeError(answered), 'Telegram answered 400: Bad Request: chat not found')
})

t.test('what is worth retrying: no answer, 429, 5xx; not 4xx', async (t) => {
  t.ok(isRetryable(new Error('socket hang up')))
  t.ok(isRetryable(new TelegramError({ error_code: 502, description: 'Bad Gateway' })))
  t.ok(isRetryable(new TelegramError({ error_code: 429, description: 'Too Many Requests', parameters: { retry_after: 3 } })))
  t.notOk(isRetryable(new TelegramError({ error_code: 400, description: 'Bad Request' })))
  t.equal(retryAfterSeconds(new TelegramError({ error_code: 429, description: 'Too Many Requests', parameters: { retry_after: 3 } })), 3)
  t.equal(retryAfterSeconds(new Error('x')), undefined)
})
