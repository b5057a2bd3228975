// The retry timeline's geometry, as a pure function of the job, its executions
// and (when the backend has it) its history: attempts become bars on one linear
// time axis, and the waits between them become gaps drawn to the same scale, so a
// gap's width is proportional to its backoff.
import type { Execution, HistoryEvent, JobStatus } from '../../api/types'
import { fmtSpan, ms } from './format'
import { openAttemptStart } from './lifecycle'

export type Outcome = 'COMPLETED' | 'FAILED' | 'RUNNING' | 'LEASE_EXPIRED' | 'CANCELLED' | 'YIELDED' | 'PARKED'
/** queued: submission to the first attempt; backoff: an automatic retry's wait; manual: a wait ended by a manual retry; scheduled: the wait still running until nextRunAt. */
export type GapKind = 'queued' | 'backoff' | 'manual' | 'scheduled'

export interface TimelineInput {
  job: {
    status: JobStatus
    createdAt: string
    startedAt: string | null
    attempts: number
    nextRunAt: string | null
    updatedAt: string
    finishedAt: string | null
  }
  executions: Execution[]
  history?: HistoryEvent[]
  now: number
}

export interface Attempt {
  attempt: number
  start: number
  end: number
  outcome: Outcome
  errorCode?: string | null
  /** The start is a stand-in (no history, attempt still running). */
  approx?: boolean
}

export interface Bar extends Attempt {
  x: number
  w: number
}

export interface Gap {
  kind: GapKind
  fromAttempt: number | null
  toAttempt: number | null
  start: number
  end: number
  ms: number
  x: number
  w: number
  label: string
  /** The label to draw: the full one, a short one, or none when the gap is too narrow. */
  shown: string
  labelX: number
}

export interface Marker {
  kind: 'MANUAL_RETRY' | 'CANCELLED' | 'DEAD_LETTERED'
  at: number
  x: number
  label: string
}

export interface Tick {
  x: number
  label: string
}

export interface Geometry {
  width: number
  height: number
  t0: number
  t1: number
  /** Pixels per millisecond. */
  scale: number
  bars: Bar[]
  gaps: Gap[]
  markers: Marker[]
  ticks: Tick[]
  rows: { label: number; barTop: number; barHeight: number; axis: number; tickLabel: number }
}

export const PAD = 12
const ROWS = { label: 14, barTop: 22, barHeight: 26, axis: 56, tickLabel: 71 }
const HEIGHT = 80
/** Average label character width at the SVG's 11 px font, for fit checks. */
const CHAR_W = 6.3

/** The attempts with their start, end and outcome. */
export function attemptsOf(input: TimelineInput): Attempt[] {
  const { job, executions, history, now } = input
  const byAttempt = new Map<number, Attempt>()
  for (const e of executions) {
    const start = ms(e.startedAt)
    const end = ms(e.finishedAt)
    if (start === null || end === null) continue
    byAttempt.set(e.attempt, { attempt: e.attempt, start, end: Math.max(start, end), outcome: e.status, errorCode: e.errorCode })
  }
  const events = history ?? []
  // An attempt starts when it started, or (never started: its lease ran out first) when it was dispatched.
  const begun = new Map<number, HistoryEvent>()
  for (const ev of events) {
    if (ev.attempt === undefined) continue
    if (ev.type === 'STARTED' || (ev.type === 'DISPATCHED' && !begun.has(ev.attempt))) begun.set(ev.attempt, ev)
  }
  for (const ev of begun.values()) {
    if (ev.attempt === undefined || byAttempt.has(ev.attempt)) continue
    const start = ms(ev.at)
    if (start === null) continue
    const n = ev.attempt
    const ended = events.find(
      (x) => x.attempt === n && (x.type === 'LEASE_EXPIRED' || x.type === 'ATTEMPT_FAILED' || x.type === 'ATTEMPT_COMPLETED'),
    )
    if (ended) {
      const outcome: Outcome = ended.type === 'LEASE_EXPIRED' ? 'LEASE_EXPIRED' : ended.type === 'ATTEMPT_COMPLETED' ? 'COMPLETED' : 'FAILED'
      byAttempt.set(n, { attempt: n, start, end: Math.max(start, ms(ended.at) ?? start), outcome, errorCode: ended.errorCode })
    } else if (job.status === 'RUNNING') {
      byAttempt.set(n, { attempt: n, start, end: Math.max(start, now), outcome: 'RUNNING' })
    } else if (job.status === 'CANCELLED') {
      const cancelled = events.find((x) => x.type === 'CANCELLED')
      const end = ms(cancelled?.at ?? job.finishedAt ?? job.updatedAt) ?? start
      byAttempt.set(n, { attempt: n, start, end: Math.max(start, end), outcome: 'CANCELLED' })
    }
  }
  const open = history ? null : openAttemptStart(job, Math.max(0, ...byAttempt.keys()))
  const openStart = ms(open?.at)
  if (open && openStart !== null && (job.status === 'RUNNING' || job.status === 'CANCELLED')) {
    // Without history, the attempt still running (or cut short by a cancel) has no execution yet.
    const running = job.status === 'RUNNING'
    const end = running ? now : (ms(job.finishedAt ?? job.updatedAt) ?? openStart)
    byAttempt.set(job.attempts, {
      attempt: job.attempts,
      start: openStart,
      end: Math.max(openStart, end),
      outcome: running ? 'RUNNING' : 'CANCELLED',
      ...(open.approx ? { approx: true } : {}),
    })
  }
  return [...byAttempt.values()].sort((a, b) => a.start - b.start || a.attempt - b.attempt)
}

function markersOf(input: TimelineInput): Omit<Marker, 'x'>[] {
  const out: Omit<Marker, 'x'>[] = []
  for (const ev of input.history ?? []) {
    const at = ms(ev.at)
    if (at === null) continue
    if (ev.type === 'MANUAL_RETRY') out.push({ kind: 'MANUAL_RETRY', at, label: `manual retry${ev.by ? ` by ${ev.by}` : ''}` })
    if (ev.type === 'CANCELLED') out.push({ kind: 'CANCELLED', at, label: `cancelled${ev.by ? ` by ${ev.by}` : ''}` })
    if (ev.type === 'DEAD_LETTERED') out.push({ kind: 'DEAD_LETTERED', at, label: 'dead-lettered' })
  }
  if (!input.history && input.job.status === 'CANCELLED') {
    const at = ms(input.job.finishedAt ?? input.job.updatedAt)
    if (at !== null) out.push({ kind: 'CANCELLED', at, label: 'cancelled' })
  }
  return out
}

const TICK_STEPS = [
  100, 200, 500, 1e3, 2e3, 5e3, 1e4, 15e3, 3e4, 6e4, 12e4, 3e5, 6e5, 9e5, 18e5, 36e5, 72e5, 144e5, 288e5, 864e5,
]

export function tickLabel(offset: number): string {
  if (offset === 0) return '0'
  if (offset < 1000) return `+${offset / 1000} s`
  if (offset < 60_000) return `+${offset / 1000} s`
  if (offset < 3_600_000) return `+${+(offset / 60_000).toFixed(1)} min`
  return `+${+(offset / 3_600_000).toFixed(1)} h`
}

function gapLabel(kind: GapKind, d: number, now: number, end: number): string {
  switch (kind) {
    case 'queued':
      return `queued ${fmtSpan(d)}`
    case 'manual':
      return `manual retry after ${fmtSpan(d)}`
    case 'scheduled':
      return end > now ? `next attempt in ${fmtSpan(end - now)}` : `retry due (waited ${fmtSpan(d)})`
    default:
      return `waited ${fmtSpan(d)}`
  }
}

/** Lays the timeline out at a width in pixels. */
export function layout(input: TimelineInput, width: number): Geometry {
  const { job, now } = input
  const attempts = attemptsOf(input)
  const marks = markersOf(input)
  const created = ms(job.createdAt) ?? attempts[0]?.start ?? now
  const live = job.status === 'PENDING' || job.status === 'RUNNING' || job.status === 'WAITING'
  const nextRun = job.status === 'PENDING' ? ms(job.nextRunAt) : null

  // Waits: submission → first attempt, between attempts, last attempt → next run.
  const raw: Omit<Gap, 'x' | 'w' | 'shown' | 'labelX' | 'label'>[] = []
  const manualBetween = (a: number, b: number) => marks.some((m) => m.kind === 'MANUAL_RETRY' && m.at > a && m.at <= b)
  if (attempts.length > 0) {
    const first = attempts[0]
    if (first.start > created) raw.push({ kind: 'queued', fromAttempt: null, toAttempt: first.attempt, start: created, end: first.start, ms: first.start - created })
    for (let i = 1; i < attempts.length; i++) {
      const a = attempts[i - 1]
      const b = attempts[i]
      if (b.start < a.end) continue
      raw.push({
        kind: manualBetween(a.end, b.start) ? 'manual' : 'backoff',
        fromAttempt: a.attempt,
        toAttempt: b.attempt,
        start: a.end,
        end: b.start,
        ms: b.start - a.end,
      })
    }
    const last = attempts[attempts.length - 1]
    if (job.status === 'PENDING' && last.outcome !== 'RUNNING') {
      const end = Math.max(nextRun ?? now, last.end)
      const manual = marks.some((m) => m.kind === 'MANUAL_RETRY' && m.at > last.end)
      raw.push({ kind: manual ? 'manual' : 'scheduled', fromAttempt: last.attempt, toAttempt: null, start: last.end, end, ms: end - last.end })
    }
  } else if (job.status === 'PENDING') {
    const end = Math.max(now, created)
    raw.push({ kind: 'queued', fromAttempt: null, toAttempt: null, start: created, end, ms: end - created })
  }

  const t0 = Math.min(created, ...attempts.map((a) => a.start), ...marks.map((m) => m.at))
  let t1 = Math.max(t0, ...attempts.map((a) => a.end), ...raw.map((g) => g.end), ...marks.map((m) => m.at))
  if (live) t1 = Math.max(t1, Math.min(now, t1 + 3_600_000))
  const span = Math.max(t1 - t0, 1)
  const plot = Math.max(width - 2 * PAD, 1)
  const scale = plot / span
  const x = (t: number) => PAD + (t - t0) * scale

  const bars: Bar[] = attempts.map((a) => ({ ...a, x: x(a.start), w: (a.end - a.start) * scale }))
  const fit = (text: string, w: number) => text.length * CHAR_W <= w + 8
  const gaps: Gap[] = raw.map((g) => {
    const label = gapLabel(g.kind, g.ms, now, g.end)
    const w = g.ms * scale
    const short = fmtSpan(g.ms)
    // A bare duration is clear between two attempts; before the first it would not say what it is.
    const shown = fit(label, w) ? label : g.kind !== 'queued' && fit(short, w) ? short : ''
    const half = (shown.length * CHAR_W) / 2
    const mid = x(g.start) + w / 2
    return { ...g, label, x: x(g.start), w, shown, labelX: Math.min(Math.max(mid, half + 1), width - half - 1) }
  })
  const markers: Marker[] = marks.map((m) => ({ ...m, x: x(m.at) }))

  const target = Math.max(2, Math.floor(plot / 90))
  const step = TICK_STEPS.find((s) => span / s <= target) ?? Math.ceil(span / target / 864e5) * 864e5
  const ticks: Tick[] = []
  for (let o = 0; o <= span + 1e-6; o += step) ticks.push({ x: x(t0 + o), label: tickLabel(o) })

  return { width, height: HEIGHT, t0, t1, scale, bars, gaps, markers, ticks, rows: ROWS }
}

const OUTCOME_WORDS: Record<Outcome, string> = {
  COMPLETED: 'succeeded',
  FAILED: 'failed',
  RUNNING: 'running',
  LEASE_EXPIRED: 'lost (lease expired)',
  CANCELLED: 'cancelled',
  YIELDED: 'yielded at the deadline (not charged; the next attempt resumes)',
  PARKED: 'parked (a long SLEEP; resumes when due)',
}

export function outcomeWord(o: Outcome): string {
  return OUTCOME_WORDS[o]
}

/** The timeline in words, in time order: for the SVG's <desc> and the text list. */
export function describe(g: Geometry): string[] {
  const items: { t: number; order: number; text: string }[] = []
  for (const b of g.bars) {
    const d = fmtSpan(b.end - b.start)
    const text =
      b.outcome === 'RUNNING'
        ? `Attempt ${b.attempt}: running for ${d}${b.approx ? ' (approximately)' : ''}`
        : `Attempt ${b.attempt}: ${outcomeWord(b.outcome)} after ${d}${b.errorCode ? ` (${b.errorCode})` : ''}`
    items.push({ t: b.start, order: 1, text })
  }
  for (const gp of g.gaps) {
    const text = gp.label.charAt(0).toUpperCase() + gp.label.slice(1)
    items.push({ t: gp.start, order: 2, text })
  }
  for (const m of g.markers) {
    items.push({ t: m.at, order: 0, text: m.label.charAt(0).toUpperCase() + m.label.slice(1) })
  }
  return items.sort((a, b) => a.t - b.t || a.order - b.order).map((i) => i.text)
}
