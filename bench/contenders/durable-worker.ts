// A durable-mode worker process (issue 14), started exactly as `node dist/worker.js` starts one
// (src/worker.ts's startWorker: configuration, getMe against TELEGRAM_API_ROOT, the migrations,
// graphile-worker with WORKER_CONCURRENCY), with the bench's bot in place of the product's
// features. Once it takes jobs it writes its pid to BENCH_READY_FILE, so the runner knows when to
// queue them; on SIGTERM it finishes the running jobs and reports.
import { writeFileSync } from 'node:fs'
import { startWorker } from '../../src/worker.js'
import { benchBot, installBenchBot, onStop } from './common.js'

const kind = benchBot()
const running = await startWorker({ env: process.env, features: [(bot) => { installBenchBot(bot, kind) }] })
onStop(async () => {
  await running.stop()
  return { worker: running.worker.stats }
})
const ready = process.env.BENCH_READY_FILE
if (ready !== undefined && ready !== '') writeFileSync(ready, String(process.pid))
