// Arguments are read the way the Bot API server reads them.
import t from 'tap'
import { parseArgs } from '../../sandbox/request-args.js'

t.test('multipart as Telegraf writes it (no space after the header colon), files counted', async (t) => {
  const boundary = 'b0undary'
  const body = Buffer.from([
    `--${boundary}`, 'content-disposition:form-data; name="chat_id"', '', '42',
    `--${boundary}`, 'content-disposition:form-data; name="voice"; filename="v.ogg"', 'content-type:audio/ogg', '', 'OggS1234',
    `--${boundary}--`
  ].join('\r\n'))
  const args = parseArgs(`multipart/form-data; boundary=${boundary}`, body)
  t.equal(args.string('chat_id'), '42')
  t.match(args.file('voice'), { filename: 'v.ogg', contentType: 'audio/ogg', size: 8 })
})

t.test('attach://name points at another part', async (t) => {
  const body = Buffer.from(['--x', 'Content-Disposition: form-data; name="voice"', '', 'attach://file1',
    '--x', 'Content-Disposition: form-data; name="file1"; filename="a.ogg"', '', 'abc', '--x--'].join('\r\n'))
  t.match(parseArgs('multipart/form-data; boundary=x', body).file('voice'), { filename: 'a.ogg', size: 3 })
})

t.test('JSON values that are not strings become their JSON text', async (t) => {
  const args = parseArgs('application/json', Buffer.from(JSON.stringify({ chat_id: 7, allowed_updates: ['message'], drop_pending_updates: true })))
  t.equal(args.string('chat_id'), '7')
  t.equal(args.string('allowed_updates'), '["message"]')
  t.equal(args.bool('drop_pending_updates'), true)
})

t.test('integers as get_integer_arg reads them: default, leading digits, clamped', async (t) => {
  const args = parseArgs('application/x-www-form-urlencoded', Buffer.from('a=12abc&b=500&c=nope'))
  t.equal(args.int('a', 0), 12)
  t.equal(args.int('b', 40, 1, 100), 100)
  t.equal(args.int('c', 40, 1, 100), 1, 'unparsable is 0, then clamped')
  t.equal(args.int('missing', 40, 1, 100), 40)
})

t.test('a JSON body that is not an object is a 400', async (t) => {
  for (const text of ['[1,2]', '{oops']) {
    const error = ((): unknown => { try { return parseArgs('application/json', Buffer.from(text)) } catch (caught) { return caught } })()
    t.match(error, { errorCode: 400, description: /^Bad Request: / }, text)
  }
})
