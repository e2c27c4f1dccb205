// .env.example is what an operator copies (cp .env.example .env): it must name every variable the
// service and the compose file read, in a syntax every reader agrees on, with values that start.
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { envSchema } from '../../src/config.js'
import { LogCapture } from '../helpers/log-capture.js'
import { readEnvExample, readRepoFile } from './tools.js'

const text = readRepoFile('.env.example')
const example = readEnvExample()
const serviceVariables = Object.keys(envSchema.properties)
const composeVariables = [...new Set([...readRepoFile('docker-compose.yml').matchAll(/\$\{(\w+)/g)].map((m) => m[1] ?? ''))]

t.test('every variable of the service and of the compose file is there, and nothing else', async (t) => {
  for (const name of [...serviceVariables, ...composeVariables]) t.ok(name in example, name)
  const unknown = Object.keys(example).filter((k) => !serviceVariables.includes(k) && !composeVariables.includes(k))
  t.same(unknown, [], 'no variable that nothing reads')
})

t.test('one variable a line, KEY=value without quotes or trailing comments (compose v1 keeps both in the value)', async (t) => {
  const keys: string[] = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const match = /^([A-Z][A-Z0-9_]*)=([^"'#\s]*)$/.exec(line)
    t.ok(match !== null, `"${line}"`)
    if (match?.[1] !== undefined) keys.push(match[1])
  }
  t.same(keys.filter((k, i) => keys.indexOf(k) !== i), [], 'no variable twice')
})

t.test('each value given for a variable with a default is that default, so the comments stay true', async (t) => {
  for (const [name, schema] of Object.entries(envSchema.properties)) {
    if (!('default' in schema) || example[name] === '') continue
    t.equal(example[name], String(schema.default), name)
  }
})

t.test('the service accepts the copied file as it is: webhook mode on https://DOMAIN/api/telegram/webhook', async (t) => {
  const app = await buildApp({ env: example, logStream: new LogCapture() })
  t.teardown(() => app.close())
  t.match(app.config, {
    useWebhook: true,
    webhookUrl: `https://${example.DOMAIN ?? ''}/api/telegram/webhook`,
    webhookSecretDerived: true,
    adminToken: undefined,
    apiRoot: 'https://api.telegram.org',
    port: 3000,
    host: '0.0.0.0'
  })
})
