// Processes for the benchmark: start one (pinned to a CPU with taskset when asked), wait until it
// answers HTTP, read its CPU time and peak RSS from /proc, stop it with SIGTERM.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { openSync, readFileSync, closeSync } from 'node:fs'
import { request } from 'node:http'
import { createServer } from 'node:net'
import { availableParallelism } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'

let clockTicks: number | undefined

/** Clock ticks per second, the unit of utime/stime in /proc/<pid>/stat (100 nearly everywhere). */
function ticksPerSecond (): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
    } catch {
      clockTicks = 100
    }
  }
  return clockTicks
}

/** Fields of /proc/<pid>/stat after the command name (which may contain spaces); [0] is field 3. */
function statFields (pid: number | 'self'): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
}

/** User + system CPU time the process has used so far, in microseconds. */
export function cpuTimeUs (pid: number | 'self'): number {
  const fields = statFields(pid)
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond() * 1e6 // utime, stime
}

/** User CPU time alone (no system calls), in microseconds. */
export function userCpuTimeUs (pid: number): number {
  return Number(statFields(pid)[11]) / ticksPerSecond() * 1e6
}

/** CPU time of this process's children that have exited and been waited for (wrk runs), in us. */
export function exitedChildrenCpuUs (): number {
  const fields = statFields('self')
  return (Number(fields[13]) + Number(fields[14])) / ticksPerSecond() * 1e6 // cutime, cstime
}

/** User + system time of all CPUs together (interrupt handling left out), in microseconds. */
export function machineCpuUs (): number {
  const total = /^cpu\s+(\d+)\s+(\d+)\s+(\d+)/m.exec(readFileSync('/proc/stat', 'utf8'))
  return total === null ? 0 : (Number(total[1]) + Number(total[2]) + Number(total[3])) / ticksPerSecond() * 1e6
}

/** Peak resident set size so far (VmHWM), in KiB. */
export function peakRssKb (pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(/^VmHWM:\s+(\d+)/m.exec(status)?.[1] ?? 0)
}

/** Resident set size now (VmRSS), in KiB. */
export function rssKb (pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0)
}

/** taskset is there and the machine has two CPUs or more, so server and load can be kept apart. */
export function canPin (): boolean {
  if (availableParallelism() < 2) return false
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

export function pinSelf (cpu: number): void {
  execFileSync('taskset', ['-cp', String(cpu), String(process.pid)], { stdio: 'ignore' })
}

export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => { resolve(port) })
    })
  })
}

const running = new Set<Started>()

/** Kills every process startNode started that is still running (the runner was interrupted). */
export function killStarted (): void {
  for (const started of running) started.child.kill('SIGKILL')
}

/** On SIGINT or SIGTERM: kill what startNode started, then exit 130. */
export function killStartedOnSignals (): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      killStarted()
      process.exit(130)
    })
  }
}

export interface Started {
  child: ChildProcess
  pid: number
  exited: Promise<number | null>
}

/** Starts `node script` (under taskset when `cpu` is set), its output appended to `logFile`. */
export function startNode (script: string, env: NodeJS.ProcessEnv, logFile: string, cpu?: number, nodeArgs: string[] = []): Started {
  const fd = openSync(logFile, 'a')
  const args = [...nodeArgs, script]
  // taskset execs node, so the pid we get is the server's own.
  const child = cpu === undefined
    ? spawn(process.execPath, args, { env, stdio: ['ignore', fd, fd] })
    : spawn('taskset', ['-c', String(cpu), process.execPath, ...args], { env, stdio: ['ignore', fd, fd] })
  closeSync(fd)
  if (child.pid === undefined) throw new Error(`could not start ${script}`)
  const started: Started = {
    child,
    pid: child.pid,
    exited: new Promise<number | null>((resolve) => {
      child.once('exit', (code) => {
        running.delete(started)
        resolve(code)
      })
    })
  }
  running.add(started)
  return started
}

function answers (url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'GET', timeout: 1000, agent: false }, (res) => {
      res.resume()
      resolve(true)
    })
    req.on('error', () => { resolve(false) })
    req.on('timeout', () => { req.destroy() })
    req.end()
  })
}

/** Resolves once `url` gives any HTTP answer; rejects when the process exits first or time runs out. */
export async function waitForHttp (url: string, started: Started, timeoutMs: number): Promise<void> {
  let exitCode: number | null | undefined
  started.exited.then((code) => { exitCode = code }, () => {})
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (exitCode !== undefined) throw new Error(`exited with code ${exitCode} before listening`)
    if (await answers(url)) return
    await sleep(50)
  }
  throw new Error(`did not answer on ${url} within ${timeoutMs} ms`)
}

/** SIGTERM, then wait for the exit (SIGKILL after timeoutMs). Resolves with the exit code. */
export async function stopProcess (started: Started, timeoutMs: number): Promise<number | null> {
  if (started.child.exitCode !== null) return started.child.exitCode
  started.child.kill('SIGTERM')
  const timer = setTimeout(() => { started.child.kill('SIGKILL') }, timeoutMs)
  try {
    return await started.exited
  } finally {
    clearTimeout(timer)
  }
}

export interface CpuTicks { busy: number, steal: number, total: number }

/** Per CPU, from /proc/stat: ticks busy (not idle, iowait or stolen), stolen by the hypervisor, all. */
export function cpuTicksPerCpu (): CpuTicks[] {
  const out: CpuTicks[] = []
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const m = /^cpu(\d+)\s+(.*)$/.exec(line)
    if (m === null) continue
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = (m[2] ?? '').split(/\s+/).map(Number)
    const total = user + nice + system + idle + iowait + irq + softirq + steal
    out[Number(m[1])] = { busy: total - idle - iowait - steal, steal, total }
  }
  return out
}

/** Busy and stolen percentages of each CPU between two readings. */
export function cpuUsageBetween (before: CpuTicks[], after: CpuTicks[]): Array<{ busyPct: number, stealPct: number }> {
  return after.map((a, i) => {
    const b = before[i] ?? { busy: 0, steal: 0, total: 0 }
    const total = Math.max(1, a.total - b.total)
    return { busyPct: (a.busy - b.busy) / total * 100, stealPct: (a.steal - b.steal) / total * 100 }
  })
}
