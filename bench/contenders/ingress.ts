// This service, started exactly as src/server.ts starts it (configuration from the environment,
// getMe, getWebhookInfo/setWebhook against TELEGRAM_API_ROOT, then listen), with the bench's bot
// in place of the product's features. The only bench-only code is which bot is installed.
import { startService } from '../../src/server.js'
import { benchBot, installBenchBot, onStop } from './common.js'

const kind = benchBot()
const service = await startService({ env: process.env, features: [(bot) => { installBenchBot(bot, kind) }] })
onStop(async () => {
  await service.stop()
  return { ingress: service.app.ingress.stats }
})
