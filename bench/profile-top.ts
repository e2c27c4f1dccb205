// Summarises a V8 CPU profile (node --cpu-prof, or `npm run bench -- --cpu-prof`): the frames with
// the most self time, and the same grouped by package or file, so a hot spot shows without DevTools.
//
//   node dist/bench/bench/profile-top.js bench/results/profiles/<file>.cpuprofile [top=25] [frame]
// With a frame name: who calls it (the callers' chains, three frames up), by the frame's self time.
import { readFileSync } from 'node:fs'

interface CallFrame { functionName: string, url: string, lineNumber: number }
interface ProfileNode { id: number, callFrame: CallFrame, children?: number[] }
interface Profile { nodes: ProfileNode[], samples: number[], timeDeltas: number[], startTime: number, endTime: number }

function where (url: string): string {
  if (url === '') return '(native)'
  const nm = url.lastIndexOf('node_modules/')
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/')
    return (rest[0]?.startsWith('@') === true ? `${rest[0]}/${rest[1] ?? ''}` : rest[0]) ?? url
  }
  if (url.startsWith('node:')) return url
  const src = url.indexOf('/src/')
  if (src >= 0) return url.slice(src + 1)
  const bench = url.indexOf('/bench/')
  return bench >= 0 ? url.slice(bench + 1) : url
}

function main (): void {
  const [file, topArg, frameName] = process.argv.slice(2)
  if (file === undefined) {
    console.error('usage: profile-top <file.cpuprofile> [top]')
    process.exit(2)
  }
  const top = Number(topArg ?? 25)
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parentOf = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id)
  const selfUs = new Map<number, number>()
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i] as number
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0))
  }
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0)
  const frames = new Map<string, number>()
  const places = new Map<string, number>()
  for (const [id, us] of selfUs) {
    const { callFrame: f } = byId.get(id) as ProfileNode
    const key = `${f.functionName === '' ? '(anonymous)' : f.functionName}  ${where(f.url)}${f.url === '' ? '' : `:${f.lineNumber + 1}`}`
    frames.set(key, (frames.get(key) ?? 0) + us)
    const place = f.url === '' ? f.functionName : where(f.url)
    places.set(place, (places.get(place) ?? 0) + us)
  }
  const print = (title: string, rows: Map<string, number>): void => {
    console.log(`\n${title}`)
    for (const [key, us] of [...rows].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      console.log(`${(us / total * 100).toFixed(1).padStart(6)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${key}`)
    }
  }
  console.log(`${file}: ${(total / 1e6).toFixed(2)} s sampled`)
  if (frameName !== undefined) {
    const chains = new Map<string, number>()
    for (const [id, us] of selfUs) {
      if ((byId.get(id) as ProfileNode).callFrame.functionName !== frameName) continue
      const names: string[] = []
      for (let p = parentOf.get(id); p !== undefined && names.length < 3; p = parentOf.get(p)) {
        const f = (byId.get(p) as ProfileNode).callFrame
        names.push(`${f.functionName === '' ? '(anonymous)' : f.functionName} ${where(f.url)}:${f.lineNumber + 1}`)
      }
      const key = names.join(' < ')
      chains.set(key, (chains.get(key) ?? 0) + us)
    }
    print(`callers of ${frameName}`, chains)
    return
  }
  print('self time by frame', frames)
  print('self time by package / file', places)
}

main()
