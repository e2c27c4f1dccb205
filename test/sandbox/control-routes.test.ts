// The control API over HTTP (what the sandbox UI and other processes use) reaches the same bot the
// Bot API methods and webhook deliveries act on.
import t from 'tap'
import { SANDBOX_USER } from '../../sandbox/user-updates.js'
import { TOKEN, callApi, emulatorFor, receiverFor } from './helpers.js'

async function control (apiRoot: string, action: string, body?: unknown): Promise<{ status: number, json: { ok: boolean, result?: unknown, description?: string } }> {
  const response = await fetch(`${apiRoot}/_sandbox/bot${TOKEN}/${action}`, body === undefined
    ? {}
    : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  return { status: response.status, json: await response.json() as { ok: boolean, result?: unknown } }
}

t.test('inject over HTTP, the bot answers, and the reply is read back over HTTP', async (t) => {
  const emulator = await emulatorFor(t)
  const receiver = await receiverFor(t, (post) => ({
    body: { method: 'sendMessage', chat_id: SANDBOX_USER.id, text: `echo ${post.update.update_id}` }
  }))
  await callApi(emulator.url, 'setWebhook', { url: receiver.url })

  const injected = await control(emulator.url, 'inject', { kind: 'command', command: 'start' })
  t.match(injected.json, { ok: true, result: { update_id: 1, message: { text: '/start', entities: [{ type: 'bot_command', length: 6 }] } } })

  const waited = await control(emulator.url, `wait?chat_id=${SANDBOX_USER.id}&timeout_ms=2000`)
  t.match(waited.json, { ok: true, result: [{ method: 'sendMessage', message: { text: 'echo 1' } }] })
  const sent = await control(emulator.url, `sent?chat_id=${SANDBOX_USER.id}`)
  t.same((sent.json.result as unknown[]).length, 1)
  const stats = await control(emulator.url, 'stats')
  t.match(stats.json.result, { delivery: { attempts: 1, successes: 1 }, webhook_info: { url: receiver.url } })
})

t.test('every kind of inject', async (t) => {
  const emulator = await emulatorFor(t)
  const kinds: Array<[unknown, unknown]> = [
    [{ kind: 'text', text: 'hi', from: { id: 5, is_bot: false, first_name: 'Five' } }, { message: { text: 'hi', chat: { id: 5 } } }],
    [{ kind: 'voice', duration_seconds: 3 }, { message: { voice: { duration: 3 } } }],
    [{ kind: 'callback_query', data: 'yes' }, { callback_query: { data: 'yes' } }],
    [{ kind: 'update', update: { my_chat_member: { chat: { id: 1 } } } }, { my_chat_member: { chat: { id: 1 } } }]
  ]
  for (const [request, expected] of kinds) {
    t.match((await control(emulator.url, 'inject', request)).json, { ok: true, result: expected }, JSON.stringify(request))
  }
})

t.test('bad control requests get Bot API-style errors', async (t) => {
  const emulator = await emulatorFor(t)
  t.match(await control(emulator.url, 'inject', { kind: 'telepathy' }), { status: 400, json: { ok: false } })
  t.match(await control(emulator.url, 'inject', { kind: 'text' }), { status: 400, json: { description: 'Bad Request: text is required' } })
  t.match(await control(emulator.url, 'nothing-here'), { status: 404 })
  t.match(await control(emulator.url, 'wait?timeout_ms=30'), { status: 408 })
  const badToken = await fetch(`${emulator.url}/_sandbox/botnope/stats`)
  t.equal(badToken.status, 401)
})
