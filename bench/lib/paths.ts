// Where the benchmark's files are: the checkout (found from this file, in bench/lib or compiled in
// dist/bench/bench/lib), bench/ and its results folder, and a fresh log folder per run.
import { existsSync, mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The nearest folder above `from` with a package.json and the bench's wrk script. */
function findRoot (from: string): string {
  for (let dir = from; dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'bench', 'load', 'wrk-post.lua'))) return dir
  }
  throw new Error(`no checkout found above ${from}`)
}

export const ROOT = findRoot(dirname(fileURLToPath(import.meta.url)))
export const BENCH_DIR = join(ROOT, 'bench')
export const RESULTS_DIR = join(BENCH_DIR, 'results')

/** The current time as a file-name part. */
export function stamp (): string {
  return new Date().toISOString().replace(/[:.]/g, '-')
}

/** Creates and returns bench/results/logs/<kind>-<time>. */
export function newLogDir (kind: string): string {
  const dir = join(RESULTS_DIR, 'logs', `${kind}-${stamp()}`)
  mkdirSync(dir, { recursive: true })
  return dir
}
