// The Dockerfile and .dockerignore, read as text: no Docker engine runs in CI, and the image is
// built on the VPS. These are the rules a build there must not find broken.
import { existsSync } from 'node:fs'
import t from 'tap'
import { dockerignoreIncludes, execForm, parseDockerfile, stagesOf, type Instruction, type Stage } from './dockerfile.js'
import { readRepoFile, repoPath } from './tools.js'

/** Node's end of life per LTS line (nodejs.org release schedule). A new line needs its date here. */
const NODE_END_OF_LIFE: Record<number, string> = {
  18: '2025-04-30',
  20: '2026-04-30',
  22: '2027-04-30',
  24: '2028-04-30'
}

const installsDevDependencies = (stage: Stage): boolean => stage.instructions.some((i) =>
  i.keyword === 'RUN' && /\bnpm (ci|install|i)\b/.test(i.args) && !/--omit[= ]dev|--production\b/.test(i.args))

const builds = (stage: Stage | undefined): boolean => stage?.instructions.some((i) => i.keyword === 'RUN' && /npm run build|\btsc\b/.test(i.args)) === true

/** src/X.ts for the dist/X.js that the image runs. */
const sourceOf = (script: string | undefined): string => (script ?? '').replace(/^dist\//, 'src/').replace(/\.js$/, '.ts')

const stages = stagesOf(parseDockerfile(readRepoFile('Dockerfile')))
const final = stages.at(-1)
const finalIns = (keyword: string): Instruction[] => final?.instructions.filter((i) => i.keyword === keyword) ?? []
const copiesFromStages = finalIns('COPY').filter((c) => c.args.includes('--from='))
/** The stage a COPY --from=NAME takes its files from. */
const sourceStage = (copy: Instruction | undefined): Stage | undefined => stages.find((s) => s.name === /--from=(\S+)/.exec(copy?.args ?? '')?.[1])

t.test('multi-stage: TypeScript is compiled in a stage of its own, the runtime stage only copies', async (t) => {
  t.ok(stages.length >= 2, `${stages.length} stages`)
  const dist = copiesFromStages.find((c) => /\bdist\b/.test(c.args))
  t.ok(builds(sourceStage(dist)), 'dist comes from the stage that builds it')
  t.notOk(builds(final), 'nothing is compiled in the runtime stage')
})

t.test('no dev dependency reaches the final stage', async (t) => {
  t.notOk(installsDevDependencies(final ?? { name: '', image: '', instructions: [] }), 'the final stage installs no dev dependencies')
  t.ok(copiesFromStages.length > 0)
  for (const copy of copiesFromStages) {
    const source = sourceStage(copy)
    t.ok(source !== undefined, `${copy.args}: copies from a stage of this file`)
    if (source === undefined || !installsDevDependencies(source)) continue
    // A stage that has the dev dependencies may only give its compiled output.
    const paths = copy.args.split(/\s+/).filter((w) => !w.startsWith('--')).slice(0, -1)
    t.ok(paths.every((p) => /(^|\/)dist\/?$/.test(p)), `${copy.args}: only dist from a stage with dev dependencies`)
  }
  const modules = copiesFromStages.find((c) => c.args.includes('node_modules'))
  t.ok(modules !== undefined, 'node_modules is copied in')
  t.ok(sourceStage(modules)?.instructions.some((i) => i.keyword === 'RUN' && /npm ci --omit=dev/.test(i.args)), 'from a stage that ran npm ci --omit=dev')
})

t.test('every stage is a Node LTS line that is supported today (the code itself also runs on Node 20)', async (t) => {
  const today = new Date().toISOString().slice(0, 10)
  for (const stage of stages) {
    const major = Number(/^node:(\d+)/.exec(stage.image)?.[1])
    const endOfLife = NODE_END_OF_LIFE[major]
    t.ok(endOfLife !== undefined, `${stage.image}: a Node LTS line with a known end of life`)
    t.ok(endOfLife !== undefined && endOfLife > today, `${stage.image}: supported until ${endOfLife ?? '?'}, today is ${today}`)
  }
})

t.test('the service runs as a non-root user', async (t) => {
  const user = finalIns('USER').at(-1)?.args
  t.ok(user !== undefined, 'the final stage sets USER')
  t.notOk(user === undefined || /^(root|0)(:|$)/.test(user), `USER ${user ?? ''} is not root`)
})

t.test('HEALTHCHECK runs the service\'s own probe with node, no curl', async (t) => {
  const healthcheck = finalIns('HEALTHCHECK').at(-1)
  const command = execForm(healthcheck, 'CMD')
  t.equal(command[0], 'node', 'exec form, run by node')
  t.same(command.slice(1), ['dist/admin-cli.js', 'webhook-info'], 'GET /telegram/webhook-info through admin-cli')
  t.ok(existsSync(repoPath(sourceOf(command[1]))), `${sourceOf(command[1])} exists`)
  t.match(healthcheck?.args, /--start-period=\d+s/, 'a start period covers the start-up checks with Telegram')
  t.notOk(stages.some((s) => s.instructions.some((i) => /\b(curl|wget)\b/.test(i.args))), 'no curl or wget in any instruction')
})

t.test('docker stop\'s SIGTERM reaches node itself, which drains', async (t) => {
  const command = execForm(finalIns('CMD').at(-1), 'CMD')
  t.same(command, ['node', 'dist/server.js'], 'exec form, node directly: no npm or shell that would swallow the signal')
  t.ok(existsSync(repoPath(sourceOf(command[1]))), 'its source exists')
  t.same(finalIns('ENTRYPOINT'), [], 'no entrypoint wraps it')
  t.ok(finalIns('STOPSIGNAL').every((s) => s.args === 'SIGTERM'), 'the stop signal is SIGTERM')
})

t.test('.dockerignore lets in what the Dockerfile copies, and never .env, .git, node_modules or dist', async (t) => {
  const rules = readRepoFile('.dockerignore')
  const fromContext = stages.flatMap((s) => s.instructions)
    .filter((i) => (i.keyword === 'COPY' || i.keyword === 'ADD') && !i.args.includes('--from='))
    .flatMap((i) => i.args.split(/\s+/).filter((w) => !w.startsWith('--')).slice(0, -1))
  t.ok(fromContext.length > 0)
  for (const path of [...fromContext, 'src/server.ts', 'src/admin-cli.ts']) {
    t.ok(existsSync(repoPath(path)), `${path} exists`)
    t.ok(dockerignoreIncludes(rules, path), `${path} is in the build context`)
  }
  for (const path of ['.env', '.git/HEAD', 'node_modules/fastify/package.json', 'dist/server.js', 'test/deploy/caddy.test.ts', 'docker-compose.yml']) {
    t.notOk(dockerignoreIncludes(rules, path), `${path} stays out`)
  }
})
