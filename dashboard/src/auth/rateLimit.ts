// 429 API.RATE_LIMITED: the API asked the console to wait Retry-After seconds.
// The client records when the wait ends; the live refresh stops until then
// (usePollInterval) and the frame shows a notice.
import { useEffect, useState } from 'react'

let until = 0
const listeners = new Set<() => void>()

/** Notes a 429's Retry-After (seconds; at least 1, 5 when the header is missing or bad). */
export function rateLimited(retryAfter: string | null, now = Date.now()): number {
  const s = Number.parseInt(retryAfter ?? '', 10)
  const wait = (Number.isFinite(s) && s >= 1 ? s : 5) * 1000
  until = Math.max(until, now + wait)
  for (const fn of [...listeners]) fn()
  return wait / 1000
}

/** When the current wait ends (ms since the epoch), or 0. */
export function rateLimitedUntil(): number {
  return until > Date.now() ? until : 0
}

/** Forgets any wait (tests). */
export function resetRateLimit(): void {
  until = 0
  for (const fn of [...listeners]) fn()
}

/** The end of the current wait, re-rendering when it starts and when it is over. */
export function useRateLimitedUntil(): number {
  const [, tick] = useState(0)
  useEffect(() => {
    const fn = () => tick((n) => n + 1)
    listeners.add(fn)
    return () => {
      listeners.delete(fn)
    }
  }, [])
  const u = rateLimitedUntil()
  useEffect(() => {
    if (!u) return
    const t = setTimeout(() => tick((n) => n + 1), u - Date.now() + 50)
    return () => clearTimeout(t)
  }, [u])
  return u
}
