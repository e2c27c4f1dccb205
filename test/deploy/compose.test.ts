// docker-compose.yml as docker-compose itself resolves it (`docker-compose config`, no engine
// needed), with a .env made from .env.example as an operator would: cp .env.example .env.
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { envSchema } from '../../src/config.js'
import { execForm, parseDockerfile } from './dockerfile.js'
import { needTool, readRepoFile, repoPath, run, type Teardown } from './tools.js'

interface Service {
  image?: string
  build?: unknown
  environment?: Record<string, string>
  // Compose v1 writes a port with an address in its short form, a string.
  ports?: Array<string | { published: number | string, target: number, protocol?: string, host_ip?: string }>
  expose?: Array<string | number>
  healthcheck?: { test?: string[], disable?: boolean }
  stop_grace_period?: string
  profiles?: string[]
  [key: string]: unknown
}
interface Project { services: Record<string, Service>, volumes?: Record<string, unknown> }

type Resolved = { ok: true, project: Project } | { ok: false, stderr: string }

/**
 * `docker-compose config` in a folder holding the repo's compose file and Caddyfile and this .env,
 * with these profiles on.
 */
async function composeConfig (t: Teardown, env: string, profiles: string[] = []): Promise<Resolved> {
  const dir = await mkdtemp(join(tmpdir(), 'ingress-compose-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await copyFile(repoPath('docker-compose.yml'), join(dir, 'docker-compose.yml'))
  await copyFile(repoPath('Caddyfile'), join(dir, 'Caddyfile'))
  await writeFile(join(dir, '.env'), env)
  // Only .env may feed the ${...} values: the test's own environment (PORT, CI, ...) must not.
  const options = { cwd: dir, env: { PATH: process.env.PATH, HOME: dir } }
  // Compose v2 prints JSON; v1 (Debian bookworm's docker-compose) only YAML, read with its own PyYAML.
  const profileArgs = profiles.flatMap((p) => ['--profile', p])
  const json = await run('docker-compose', [...profileArgs, 'config', '--format', 'json'], options)
  // (v1 answers the unknown option with its usage text, and exit 0.)
  if (json.code === 0 && json.stdout.trimStart().startsWith('{')) return { ok: true, project: JSON.parse(json.stdout) as Project }
  const yaml = await run('docker-compose', [...profileArgs, 'config'], options)
  if (yaml.code !== 0) return { ok: false, stderr: yaml.stderr }
  const converted = await run('python3', ['-c', 'import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'], { input: yaml.stdout })
  if (converted.code !== 0) throw new Error(`cannot read docker-compose config's YAML: ${converted.stderr}`)
  return { ok: true, project: JSON.parse(converted.stdout) as Project }
}

async function resolved (t: Teardown, env: string, profiles: string[] = []): Promise<Project> {
  const result = await composeConfig(t, env, profiles)
  if (!result.ok) throw new Error(`docker-compose config failed:\n${result.stderr}`)
  return result.project
}

/**
 * The services `up` starts with these profiles on. Compose v2's config leaves the others out
 * already; v1's lists every service, each with its profiles.
 */
const enabledServices = (project: Project, profiles: string[]): string[] =>
  Object.entries(project.services)
    .filter(([, service]) => (service.profiles ?? []).length === 0 || (service.profiles ?? []).some((p) => profiles.includes(p)))
    .map(([name]) => name)
    .sort()

const portsOf = (service: Service | undefined): string[] =>
  (service?.ports ?? []).map((p) => typeof p === 'string'
    ? p
    : `${p.host_ip === undefined ? '' : `${p.host_ip}:`}${p.published}:${p.target}/${p.protocol ?? 'tcp'}`).sort()

const seconds = (duration: string | undefined): number => {
  const match = /^(?:(\d+)m)?(?:(\d+)s)?$/.exec(duration ?? '')
  return match === null ? NaN : Number(match[1] ?? 0) * 60 + Number(match[2] ?? 0)
}

const example = readRepoFile('.env.example')
const compose = needTool(t, 'docker-compose', 'docker-compose')

t.test(`docker-compose config (${compose.version || 'absent'}) with .env from .env.example`, { skip: compose.skip }, async (t) => {
  const project = await resolved(t, example)
  const { ingress, caddy } = project.services
  t.same(enabledServices(project, []), ['caddy', 'ingress'], 'durable mode\'s services are off without their profile')

  t.test('only Caddy is published, on 80 and 443 (HTTP/3 too); the ingress is reached over the compose network', async (t) => {
    t.same(portsOf(caddy), ['443:443/tcp', '443:443/udp', '80:80/tcp'])
    t.same(portsOf(ingress), [])
    t.same(ingress?.expose?.map(String), ['3000'])
  })

  t.test('the ingress: built here, .env as its environment, init as PID 1, restarted, health-checked', async (t) => {
    t.ok(ingress?.build !== undefined, 'built from the Dockerfile')
    t.match(ingress?.environment, { TELEGRAM_BOT_TOKEN: '123456789:replace-with-the-token-from-BotFather', TELEGRAM_WEBHOOK_URL: 'https://bot.example.com/api/telegram/webhook' })
    t.equal(ingress?.init, true)
    t.equal(ingress?.restart, 'unless-stopped')
    const dockerfileCheck = execForm(parseDockerfile(readRepoFile('Dockerfile')).findLast((i) => i.keyword === 'HEALTHCHECK'), 'CMD')
    t.same(ingress?.healthcheck?.test, ['CMD', ...dockerfileCheck], 'the same probe as the image\'s HEALTHCHECK')
    const grace = seconds(ingress?.stop_grace_period)
    const drainMs = Math.max(envSchema.properties.SHUTDOWN_TIMEOUT_MS.default, Number(/^SHUTDOWN_TIMEOUT_MS=(\d+)$/m.exec(example)?.[1]))
    t.ok(grace * 1000 > drainMs, `docker stop waits ${grace} s, longer than the drain (${drainMs} ms)`)
  })

  t.test('Caddy: the repo\'s Caddyfile, its data kept in volumes, and none of the bot\'s secrets', async (t) => {
    t.equal(caddy?.image, 'caddy:2')
    t.equal(caddy?.restart, 'unless-stopped')
    const volumes = (caddy?.volumes as Array<string | { source?: string, target?: string }>).map((v) => typeof v === 'string' ? v : `${v.source ?? ''}:${v.target ?? ''}`)
    t.ok(volumes.some((v) => /\/Caddyfile:\/etc\/caddy\/Caddyfile/.test(v)), 'the Caddyfile is mounted')
    t.ok(volumes.some((v) => /^caddy_data:\/data/.test(v)) && volumes.some((v) => /^caddy_config:\/config/.test(v)), 'certificates survive a recreation')
    t.match(Object.keys(project.volumes ?? {}), ['caddy_config', 'caddy_data'].map((v) => new RegExp(`^${v}$`)))
    t.same(caddy?.environment, {
      DOMAIN: 'bot.example.com',
      INGRESS_UPSTREAM: 'ingress:3000',
      BACKEND_UPSTREAM: 'host.docker.internal:3002',
      MINI_APP_ROOT: '/srv/mini-app'
    })
    const placeholders = new Set([...readRepoFile('Caddyfile').matchAll(/\{\$(\w+)/g)].map((m) => m[1]))
    for (const name of Object.keys(caddy?.environment ?? {})) t.ok(placeholders.has(name), `the Caddyfile reads ${name}`)
  })
})

t.test('HOST from .env cannot hide the ingress from Caddy, and Caddy follows PORT', { skip: compose.skip }, async (t) => {
  const env = example.replace(/^HOST=.*$/m, 'HOST=127.0.0.1').replace(/^PORT=.*$/m, 'PORT=3100')
  const { ingress, caddy } = (await resolved(t, env)).services
  t.equal(ingress?.environment?.HOST, '0.0.0.0')
  t.equal(ingress?.environment?.PORT, '3100')
  t.equal(caddy?.environment?.INGRESS_UPSTREAM, 'ingress:3100')
  t.same(ingress?.expose?.map(String), ['3100'])
})

t.test('without DOMAIN compose refuses to start, saying what to set', { skip: compose.skip }, async (t) => {
  const result = await composeConfig(t, example.replace(/^DOMAIN=.*$/m, ''))
  t.equal(result.ok, false)
  t.match(result.ok ? '' : result.stderr, /set DOMAIN in \.env/)
})

t.test('HTTP_PORT and HTTPS_PORT may name an address: Caddy published on loopback only', { skip: compose.skip }, async (t) => {
  const env = example.replace(/^HTTP_PORT=.*$/m, 'HTTP_PORT=127.0.0.1:8080').replace(/^HTTPS_PORT=.*$/m, 'HTTPS_PORT=127.0.0.1:8443')
  const { caddy } = (await resolved(t, env)).services
  t.same(portsOf(caddy), ['127.0.0.1:8080:80/tcp', '127.0.0.1:8443:443/tcp', '127.0.0.1:8443:443/udp'])
})

t.test('--profile durable adds Postgres and a worker, with DATABASE_URL as .env.example shows it', { skip: compose.skip }, async (t) => {
  const exampleUrl = /^# DATABASE_URL=(\S+)$/m.exec(example)?.[1] ?? ''
  t.ok(exampleUrl !== '', '.env.example shows a DATABASE_URL for the compose file\'s Postgres')
  const env = example
    .replace(/^DATABASE_URL=.*$/m, `DATABASE_URL=${exampleUrl.replace('PASSWORD', 'hex0123')}`)
    .replace(/^POSTGRES_PASSWORD=.*$/m, 'POSTGRES_PASSWORD=hex0123')
  const project = await resolved(t, env, ['durable'])
  const { ingress, postgres, worker } = project.services
  t.same(enabledServices(project, ['durable']), ['caddy', 'ingress', 'postgres', 'worker'])

  t.test('Postgres: the official image, its data in a named volume, health-checked, not published', async (t) => {
    t.equal(postgres?.image, 'postgres:17')
    t.equal(postgres?.restart, 'unless-stopped')
    t.same(portsOf(postgres), [], 'no host port: only the compose network reaches it')
    const volumes = (postgres?.volumes as Array<string | { source?: string, target?: string }>).map((v) => typeof v === 'string' ? v : `${v.source ?? ''}:${v.target ?? ''}`)
    t.match(volumes, [/^postgres_data:\/var\/lib\/postgresql\/data(:rw)?$/])
    t.equal(volumes.length, 1)
    t.ok(Object.keys(project.volumes ?? {}).includes('postgres_data'), 'a named volume, kept across recreations')
    t.same(postgres?.environment, { POSTGRES_PASSWORD: 'hex0123', POSTGRES_USER: 'ingress', POSTGRES_DB: 'ingress' })
    t.equal(postgres?.healthcheck?.test?.[1], 'pg_isready')
    t.same(postgres?.logging, ingress?.logging, 'the same log rotation')
  })

  t.test('DATABASE_URL of .env.example names that Postgres: its service, port, user and database', async (t) => {
    const url = new URL(exampleUrl)
    t.equal(url.protocol, 'postgres:')
    t.equal(url.hostname, 'postgres')
    t.equal(url.port, '5432')
    t.equal(url.username, postgres?.environment?.POSTGRES_USER)
    t.equal(url.pathname, `/${postgres?.environment?.POSTGRES_DB ?? ''}`)
    t.equal(url.password, 'PASSWORD', 'the placeholder the README tells to replace')
  })

  t.test('the worker: the ingress\'s image and .env, node dist/worker.js, after Postgres is healthy', async (t) => {
    t.equal(worker?.image, ingress?.image)
    t.ok(worker?.build !== undefined, 'built too, so compose never tries to pull the local image')
    t.same(worker?.command, ['node', 'dist/worker.js'])
    t.equal(worker?.environment?.DATABASE_URL, 'postgres://ingress:hex0123@postgres:5432/ingress')
    t.match(worker?.depends_on, { postgres: { condition: 'service_healthy' } })
    t.equal(worker?.init, true)
    t.equal(worker?.restart, 'unless-stopped')
    t.ok(seconds(worker?.stop_grace_period) >= seconds(ingress?.stop_grace_period), 'stopped as gently as the ingress')
    const check = worker?.healthcheck
    t.ok(check?.disable === true || check?.test?.[0] === 'NONE', 'the image\'s HTTP probe is off: a worker opens no port')
    t.same(portsOf(worker), [])
  })

  t.test('the ingress starts without the profile too: it does not depend on Postgres', async (t) => {
    // (A dependency on a service whose profile is off stops `up`, in compose v1 and v2 alike.)
    const dependsOn = ingress?.depends_on as string[] | Record<string, unknown> | undefined
    const dependencies = Array.isArray(dependsOn) ? dependsOn : Object.keys(dependsOn ?? {})
    t.notOk(dependencies.includes('postgres'), `depends on: ${dependencies.join(', ') || 'nothing'}`)
  })
})

t.test('nothing stops docker compose up --scale ingress=2: no container name, no host port', { skip: compose.skip }, async (t) => {
  const project = await resolved(t, example, ['durable'])
  for (const [name, service] of Object.entries(project.services)) t.equal(service.container_name, undefined, name)
  t.same(portsOf(project.services.ingress), [])
  t.equal(project.services.caddy?.environment?.INGRESS_UPSTREAM, 'ingress:3000', 'Caddy asks for the service name, which resolves to every replica')
})
