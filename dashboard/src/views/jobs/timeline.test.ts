import { describe as group, expect, it } from 'vitest'
import { at, EXECUTIONS, execution, HISTORY, job } from './fixtures'
import { attemptsOf, describe, layout, PAD, tickLabel, type TimelineInput } from './timeline'

const T0 = Date.parse('2026-12-04T21:11:56.000Z')

function input(over: Partial<TimelineInput> = {}): TimelineInput {
  return { job: job(), executions: EXECUTIONS, now: T0 + 10_000, ...over }
}

group('timeline layout', () => {
  it('draws each backoff gap to scale: a 2 s wait is twice as wide as a 1 s wait', () => {
    const g = layout(input(), 1000)
    const backoffs = g.gaps.filter((x) => x.kind === 'backoff')
    expect(backoffs.map((x) => x.ms)).toEqual([1000, 2000])
    expect(backoffs[1].w / backoffs[0].w).toBeCloseTo(2, 6)
    // One scale for all: a gap's width is its milliseconds times pixels per millisecond.
    for (const gp of g.gaps) expect(gp.w).toBeCloseTo(gp.ms * g.scale, 6)
    expect(backoffs.map((x) => x.label)).toEqual(['waited 1.0 s', 'waited 2.0 s'])
  })

  it('places bars and gaps edge to edge on one axis inside the padding', () => {
    const g = layout(input(), 1000)
    const [b1, b2, b3] = g.bars
    const [queued, g1, g2] = g.gaps
    expect(queued.kind).toBe('queued')
    expect(queued.x).toBeCloseTo(PAD, 6)
    expect(b1.x).toBeCloseTo(queued.x + queued.w, 6)
    expect(g1.x).toBeCloseTo(b1.x + b1.w, 6)
    expect(b2.x).toBeCloseTo(g1.x + g1.w, 6)
    expect(g2.x).toBeCloseTo(b2.x + b2.w, 6)
    expect(b3.x).toBeCloseTo(g2.x + g2.w, 6)
    expect(b3.x + b3.w).toBeCloseTo(1000 - PAD, 6)
    expect(g.bars.map((b) => b.outcome)).toEqual(['FAILED', 'FAILED', 'COMPLETED'])
  })

  it('scales with the width it is given', () => {
    const narrow = layout(input(), 390)
    const wide = layout(input(), 1280)
    const w = (g: typeof narrow) => g.gaps.filter((x) => x.kind === 'backoff')[1].w
    expect(w(wide) / w(narrow)).toBeCloseTo((1280 - 2 * PAD) / (390 - 2 * PAD), 6)
  })

  it('marks a manual retry and calls the wait before it manual, not backoff', () => {
    const g = layout(input({ history: HISTORY }), 1000)
    expect(g.gaps.map((x) => x.kind)).toEqual(['queued', 'backoff', 'manual'])
    expect(g.gaps[2].label).toBe('manual retry after 2.0 s')
    const manual = g.markers.find((m) => m.kind === 'MANUAL_RETRY')!
    expect(manual.label).toBe('manual retry by anonymous')
    expect(manual.x).toBeGreaterThan(g.gaps[2].x)
    expect(manual.x).toBeLessThan(g.gaps[2].x + g.gaps[2].w)
    expect(g.markers.map((m) => m.kind)).toContain('DEAD_LETTERED')
  })

  it('draws the wait still running until nextRunAt for a PENDING job', () => {
    const pending = job({ status: 'PENDING', attempts: 1, nextRunAt: at(1300), finishedAt: null })
    const g = layout(input({ job: pending, executions: [execution(1, 100, 200, true)], now: T0 + 800 }), 1000)
    const last = g.gaps[g.gaps.length - 1]
    expect(last.kind).toBe('scheduled')
    expect(last.ms).toBe(1000)
    expect(last.label).toBe('next attempt in 500 ms')
    expect(g.t1).toBe(T0 + 1300)
  })

  it('shows a running attempt from history growing until now, and a lost one by its lease', () => {
    const running = job({ status: 'RUNNING', attempts: 2, finishedAt: null })
    const history = [
      { at: at(0), type: 'SUBMITTED' as const },
      { at: at(100), type: 'STARTED' as const, attempt: 1 },
      { at: at(5100), type: 'LEASE_EXPIRED' as const, attempt: 1 },
      { at: at(6000), type: 'STARTED' as const, attempt: 2 },
    ]
    const a = attemptsOf({ job: running, executions: [], history, now: T0 + 7000 })
    expect(a).toEqual([
      { attempt: 1, start: T0 + 100, end: T0 + 5100, outcome: 'LEASE_EXPIRED', errorCode: undefined },
      { attempt: 2, start: T0 + 6000, end: T0 + 7000, outcome: 'RUNNING' },
    ])
  })

  it('starts an attempt that never started (its lease ran out) at its dispatch', () => {
    const pending = job({ status: 'PENDING', attempts: 1, finishedAt: null, nextRunAt: at(7000) })
    const history = [
      { at: at(0), type: 'SUBMITTED' as const },
      { at: at(50), type: 'DISPATCHED' as const, attempt: 1 },
      { at: at(5050), type: 'LEASE_EXPIRED' as const, attempt: 1, errorCode: 'SCHEDULER.LEASE_EXPIRED' },
      { at: at(5050), type: 'RETRY_SCHEDULED' as const, attempt: 2, nextRunAt: at(7000) },
    ]
    const g = layout({ job: pending, executions: [], history, now: T0 + 6000 }, 1000)
    expect(g.bars).toHaveLength(1)
    expect(g.bars[0]).toMatchObject({ attempt: 1, start: T0 + 50, end: T0 + 5050, outcome: 'LEASE_EXPIRED' })
    expect(g.gaps.map((x) => [x.kind, x.ms])).toEqual([
      ['queued', 50],
      ['scheduled', 1950],
    ])
    expect(g.gaps[1].label).toBe('next attempt in 1.0 s')
  })

  it('without history, a first attempt cut short by a cancel runs from the job’s start to its end', () => {
    const cancelled = job({ status: 'CANCELLED', attempts: 1, startedAt: at(100), finishedAt: at(5000) })
    const a = attemptsOf({ job: cancelled, executions: [], now: T0 + 9000 })
    expect(a).toEqual([{ attempt: 1, start: T0 + 100, end: T0 + 5000, outcome: 'CANCELLED' }])
  })

  it('without history, a running attempt starts at the job’s last update, marked approximate', () => {
    const running = job({ status: 'RUNNING', attempts: 2, finishedAt: null, updatedAt: at(1300) })
    const a = attemptsOf({ job: running, executions: [execution(1, 100, 200, true)], now: T0 + 2000 })
    expect(a[1]).toMatchObject({ attempt: 2, start: T0 + 1300, end: T0 + 2000, outcome: 'RUNNING', approx: true })
  })

  it('shortens or drops a label that does not fit its gap, and keeps ticks on the axis', () => {
    const g = layout(input(), 200)
    const [, g1, g2] = g.gaps
    expect(g1.label).toBe('waited 1.0 s')
    expect(g1.shown === '' || g1.shown === '1.0 s').toBe(true)
    expect(g2.shown.length).toBeLessThanOrEqual(g2.label.length)
    for (const t of g.ticks) {
      expect(t.x).toBeGreaterThanOrEqual(PAD - 1e-6)
      expect(t.x).toBeLessThanOrEqual(200 - PAD + 1e-6)
    }
    expect(g.ticks[0].label).toBe('0')
  })

  it.each([
    [0, '0'],
    [500, '+0.5 s'],
    [2000, '+2 s'],
    [90_000, '+1.5 min'],
    [7_200_000, '+2 h'],
  ])('labels a tick at %d ms as %s', (offset, want) => {
    expect(tickLabel(offset)).toBe(want)
  })

  it('has nothing to draw for a job that has not been picked up', () => {
    const g = layout(input({ job: job({ status: 'CANCELLED', attempts: 0 }), executions: [] }), 800)
    expect(g.bars).toEqual([])
    expect(g.gaps).toEqual([])
  })

  it('describes the timeline in words, in time order', () => {
    const lines = describe(layout(input({ history: HISTORY }), 1000))
    expect(lines).toEqual([
      'Queued 100 ms',
      'Attempt 1: failed after 200 ms (WORKER.STEP_FAILED)',
      'Waited 1.0 s',
      'Attempt 2: failed after 200 ms (WORKER.STEP_FAILED)',
      'Dead-lettered',
      'Manual retry after 2.0 s',
      'Manual retry by anonymous',
      'Attempt 3: succeeded after 200 ms',
    ])
  })
})
