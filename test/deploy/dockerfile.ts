// Reading a Dockerfile and a .dockerignore as Docker does, enough for the rules the tests check.

export interface Instruction { keyword: string, args: string }
export interface Stage { name: string | undefined, image: string, instructions: Instruction[] }

/** Instructions in order: continuation lines joined, comments (and the syntax directive) dropped. */
export function parseDockerfile (text: string): Instruction[] {
  const instructions: Instruction[] = []
  let pending = ''
  for (const line of text.split('\n')) {
    if (/^\s*#/.test(line)) continue
    pending += line.replace(/\\\s*$/, ' ')
    if (/\\\s*$/.test(line)) continue
    const match = /^\s*(\S+)\s*(.*?)\s*$/.exec(pending)
    pending = ''
    if (match?.[1] !== undefined) instructions.push({ keyword: match[1].toUpperCase(), args: match[2] ?? '' })
  }
  return instructions
}

/** The stages, FROM images resolved with the ARG defaults declared before the first FROM. */
export function stagesOf (instructions: Instruction[]): Stage[] {
  const globalArgs = new Map<string, string>()
  const stages: Stage[] = []
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      const [image = '', as, name] = ins.args.split(/\s+/).filter((w) => !w.startsWith('--'))
      const resolved = image.replace(/\$\{?(\w+)\}?/g, (_, arg: string) => globalArgs.get(arg) ?? '')
      stages.push({ name: as?.toUpperCase() === 'AS' ? name : undefined, image: resolved, instructions: [] })
    } else if (stages.length === 0 && ins.keyword === 'ARG') {
      const [arg = '', value = ''] = ins.args.split('=', 2)
      globalArgs.set(arg, value)
    } else {
      stages.at(-1)?.instructions.push(ins)
    }
  }
  return stages
}

/** The JSON array after `keyword` (CMD ["node", ...]); empty for the shell form. */
export function execForm (ins: Instruction | undefined, keyword: string): string[] {
  const json = ins?.args.replace(new RegExp(`^.*?\\b${keyword}\\s+`), '') ?? ''
  try {
    const value: unknown = JSON.parse(json)
    return Array.isArray(value) && value.every((v) => typeof v === 'string') ? value : []
  } catch {
    return []
  }
}

const GLOB: Record<string, string> = { '**/': '(.*/)?', '**': '.*', '*': '[^/]*', '?': '[^/]' }

/** Docker's .dockerignore rules: patterns in order, the last match wins, a match covers a folder's contents. */
export function dockerignoreIncludes (rules: string, path: string): boolean {
  let included = true
  for (const raw of rules.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'))) {
    const negated = raw.startsWith('!')
    const pattern = raw.replace(/^!/, '').replace(/^\/+|\/+$/g, '')
    const source = pattern.split(/(\*\*\/|\*\*|\*|\?)/).map((part) => GLOB[part] ?? part.replace(/[.+^${}()|[\]\\]/g, '\\$&')).join('')
    if (new RegExp(`^${source}(/.*)?$`).test(path)) included = negated
  }
  return included
}
