// Small formatting helpers for the job views: compact times and short durations.

/** "21:12:01" today, "4 Dec, 21:12:01" on another day; the ISO string if unparsable. */
export function fmtWhen(iso: string | null | undefined, now = new Date()): string {
  if (!iso) return '—'
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return iso
  const time = d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false })
  if (d.toDateString() === now.toDateString()) return time
  const day = d.toLocaleDateString(undefined, {
    day: 'numeric',
    month: 'short',
    year: d.getFullYear() === now.getFullYear() ? undefined : 'numeric',
  })
  return `${day}, ${time}`
}

/** A duration in one short unit: "180 ms", "2.1 s", "45 s", "3.5 min", "2.0 h". */
export function fmtSpan(ms: number): string {
  const a = Math.abs(ms)
  if (a < 1000) return `${Math.round(ms)} ms`
  if (a < 10_000) return `${(ms / 1000).toFixed(1)} s`
  if (a < 60_000) return `${Math.round(ms / 1000)} s`
  if (a < 3_600_000) return `${(ms / 60_000).toFixed(1)} min`
  return `${(ms / 3_600_000).toFixed(1)} h`
}

export function ms(iso: string | null | undefined): number | null {
  if (!iso) return null
  const t = Date.parse(iso)
  return Number.isNaN(t) ? null : t
}

export const TERMINAL = new Set(['COMPLETED', 'FAILED', 'CANCELLED'])
export const CANCELLABLE = new Set(['PENDING', 'RUNNING', 'WAITING'])

/** How far a time is from now, in words: "in 3 min", "in 45 s", "due now" (within a second or past). */
export function fmtFromNow(iso: string | null | undefined, now: number): string {
  const t = ms(iso)
  if (t === null) return ''
  const d = t - now
  if (d < 1000) return 'due now'
  if (d < 60_000) return `in ${Math.round(d / 1000)} s`
  if (d < 3_600_000) return `in ${Math.round(d / 60_000)} min`
  if (d < 86_400_000) return `in ${(d / 3_600_000).toFixed(1)} h`
  return `in ${(d / 86_400_000).toFixed(1)} days`
}
