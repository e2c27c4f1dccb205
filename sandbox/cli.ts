/**
 * `npm run sandbox`: chat with the bot in the terminal through the whole webhook path, offline.
 * `npm run sandbox -- --demo`: send /start and a voice message, print the replies, exit 0 (1 if a
 * reply does not come), for a first run and for CI.
 */
import { createWriteStream, type WriteStream } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface, type Interface } from 'node:readline'
import { parseArgs } from 'node:util'
import type { DestinationStream } from 'pino'
import { startSandbox, type Sandbox } from './session.js'
import { INTERACTIVE_HELP, banner, deliverySummary, describeReply } from './transcript.js'
import { SANDBOX_USER } from './user-updates.js'

const REPLY_TIMEOUT_MS = 5000
const CHAT_ID = SANDBOX_USER.id

/** The ingress's log lines go to a file, so the conversation stays readable; messages are kept for the demo. */
class IngressLog implements DestinationStream {
  readonly messages: string[] = []
  private readonly file: WriteStream

  constructor (readonly path: string) {
    this.file = createWriteStream(path, { flags: 'w' })
  }

  write (line: string): void {
    this.file.write(line)
    try {
      const entry = JSON.parse(line) as { msg?: unknown }
      if (typeof entry.msg === 'string') this.messages.push(entry.msg)
    } catch { /* not JSON: kept in the file only */ }
  }

  async close (): Promise<void> {
    await new Promise<void>((resolve) => { this.file.end(resolve) })
  }
}

async function main (): Promise<number> {
  const { values } = parseArgs({
    options: { demo: { type: 'boolean', default: false }, log: { type: 'string' }, help: { type: 'boolean', default: false } }
  })
  if (values.help === true) {
    console.log('Usage: npm run sandbox [-- --demo] [-- --log <file>]\n\n' + INTERACTIVE_HELP)
    return 0
  }
  const log = new IngressLog(values.log ?? join(tmpdir(), 'telegram-ingress-sandbox.log'))
  const sandbox = await startSandbox({ logStream: log, env: { LOG_LEVEL: 'info' } })
  console.log(banner(sandbox, log.path) + '\n')
  try {
    return values.demo === true ? await runDemo(sandbox, log) : await runInteractive(sandbox)
  } finally {
    await sandbox.stop()
    await log.close()
  }
}

interface DemoStep {
  shown: string
  send: (sandbox: Sandbox) => void
}

const DEMO_STEPS: DemoStep[] = [
  { shown: '/start', send: (sandbox) => { sandbox.bot.injectCommand('start') } },
  { shown: '[voice message, 3 s]', send: (sandbox) => { sandbox.bot.injectVoice({ durationSeconds: 3 }) } }
]

async function runDemo (sandbox: Sandbox, log: IngressLog): Promise<number> {
  for (const step of DEMO_STEPS) {
    console.log(`you> ${step.shown}`)
    const since = sandbox.bot.sent(CHAT_ID).length
    step.send(sandbox)
    try {
      const replies = await sandbox.bot.waitForSent({ chatId: CHAT_ID, since, timeoutMs: REPLY_TIMEOUT_MS })
      for (const reply of replies) console.log(describeReply(reply))
    } catch (error) {
      console.error(`sandbox: no reply to ${step.shown}: ${error instanceof Error ? error.message : String(error)}`)
      console.error(`sandbox: the ingress log is in ${log.path}`)
      return 1
    }
  }
  await acknowledged(sandbox)
  const voiceLog = log.messages.find((msg) => msg.startsWith('Received voice from'))
  console.log(`\ningress log: ${voiceLog ?? '(no "Received voice" line)'}`)
  console.log(deliverySummary(sandbox.bot.deliveryStats(), sandbox.bot.webhookInfo().pending_update_count))
  return 0
}

/** The reply can come before the webhook POST is answered; wait (briefly) for the 2xx too. */
async function acknowledged (sandbox: Sandbox): Promise<void> {
  const deadline = Date.now() + REPLY_TIMEOUT_MS
  while (sandbox.bot.webhookInfo().pending_update_count > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

async function runInteractive (sandbox: Sandbox): Promise<number> {
  console.log(INTERACTIVE_HELP + '\n')
  const rl = createInterface({ input: process.stdin, output: process.stdout, prompt: 'you> ' })
  const stopPrinting = sandbox.bot.onSent((sent) => { printAbovePrompt(rl, describeReply(sent)) })
  rl.prompt()
  try {
    await new Promise<void>((resolve) => {
      rl.on('line', (line) => {
        if (handleLine(sandbox, rl, line.trim()) === 'quit') rl.close()
        else rl.prompt()
      })
      rl.on('SIGINT', () => { rl.close() })
      rl.on('close', resolve)
    })
  } finally {
    stopPrinting()
  }
  console.log('\n' + deliverySummary(sandbox.bot.deliveryStats(), sandbox.bot.webhookInfo().pending_update_count))
  return 0
}

function handleLine (sandbox: Sandbox, rl: Interface, line: string): 'quit' | 'go on' {
  const [word = '', ...rest] = line.split(/\s+/)
  const argument = rest.join(' ')
  switch (word) {
    case '': break
    case '/quit': return 'quit'
    case '/voice': sandbox.bot.injectVoice({ durationSeconds: Number(argument) > 0 ? Number(argument) : 2 }); break
    case '/press':
      if (sandbox.bot.injectCallbackQuery(argument === '' ? 'pressed' : argument) === undefined) printAbovePrompt(rl, '(callback queries are not in allowed_updates)')
      break
    case '/stats':
      printAbovePrompt(rl, deliverySummary(sandbox.bot.deliveryStats(), sandbox.bot.webhookInfo().pending_update_count))
      printAbovePrompt(rl, `getWebhookInfo: ${JSON.stringify(sandbox.bot.webhookInfo())}`)
      break
    default: sandbox.bot.injectText(line)
  }
  return 'go on'
}

// A reply arrives while the person may be typing: print it on its own line, then restore the prompt.
function printAbovePrompt (rl: Interface, text: string): void {
  if (process.stdout.isTTY) process.stdout.write('\r\x1b[K')
  else process.stdout.write('\n')
  console.log(text)
  rl.prompt(true)
}

main().then(
  (code) => { process.exit(code) },
  (error: unknown) => {
    console.error(`sandbox: ${error instanceof Error ? error.message : String(error)}`)
    process.exit(1)
  }
)
