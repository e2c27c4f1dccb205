import { timingSafeEqual } from 'node:crypto'

/** A comparison whose time does not depend on where the strings differ (only on their lengths). */
export function secretMatcher (expected: string): (candidate: string | undefined) => boolean {
  const want = Buffer.from(expected)
  return (candidate) => {
    if (candidate === undefined || candidate.length !== expected.length) return false
    const got = Buffer.from(candidate)
    return got.length === want.length && timingSafeEqual(got, want)
  }
}
