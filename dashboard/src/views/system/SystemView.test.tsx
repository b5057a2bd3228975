import { screen, within } from '@testing-library/react'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { renderAt, stubApi } from '../../test/renderOps'
import type { SystemStatus } from '../../api/types'
import { fmtAge } from './SystemView'

// uPlot draws on a canvas, which jsdom has not: the chart module is replaced by
// one that lists what it was given.
vi.mock('./ThroughputChart', () => ({
  default: ({ points }: { points: { completed: number; failed: number }[] }) => (
    <ol data-testid="chart">
      {points.map((p, i) => (
        <li key={i}>
          {p.completed}/{p.failed}
        </li>
      ))}
    </ol>
  ),
}))

function points() {
  const start = Date.parse('2026-12-04T20:00:00Z')
  return Array.from({ length: 60 }, (_, i) => ({
    at: new Date(start + i * 60_000).toISOString(),
    completed: i === 59 ? 7 : 1,
    failed: i === 58 ? 2 : 0,
  }))
}

function status(over: Partial<SystemStatus> = {}): SystemStatus {
  return {
    generatedAt: '2026-12-04T21:00:00Z',
    source: 'local',
    functions: [
      { name: 'api', status: 'UP' },
      { name: 'scheduler', status: 'UP' },
      { name: 'worker', status: 'DOWN', error: 'connection refused' },
      { name: 'dlq', status: 'UP' },
    ],
    throughput: { bucketSeconds: 60, points: points() },
    lag: [
      { consumer: 'worker', topic: 'jobs.dispatch', group: 'jobweaver-worker', lag: 12 },
      { consumer: 'scheduler', topic: 'jobs.results', group: 'jobweaver-scheduler', lag: 0 },
    ],
    outbox: [{ service: 'api', pending: 3, parked: 1 }],
    due: { count: 5, oldestAgeSeconds: 125 },
    running: { count: 2 },
    dlq: { open: 4 },
    ...over,
  }
}

afterEach(() => {
  vi.unstubAllGlobals()
})

describe('fmtAge', () => {
  it.each([
    [5, '5 s'],
    [125, '2 min 5 s'],
    [7260, '2 h 1 min'],
    [null, '—'],
  ])('%s seconds reads %s', (s, want) => {
    expect(fmtAge(s)).toBe(want)
  })
})

describe('SystemView', () => {
  it('shows health, lag per mapping, backlogs and throughput', async () => {
    stubApi({ 'GET /api/system': { body: status() } })
    renderAt('/system')
    const lag = await screen.findByRole('table', { name: 'Consumer lag' })
    const rows = within(lag).getAllByRole('row')
    expect(rows).toHaveLength(3)
    expect(rows[1]).toHaveTextContent('jobs.dispatch')
    expect(rows[1]).toHaveTextContent('12')
    expect(within(screen.getByRole('table', { name: 'Outbox backlog' })).getByText('1')).toHaveClass('bad')

    const worker = screen.getByText('worker', { selector: 'strong' }).closest('li')!
    expect(worker).toHaveTextContent('DOWN')
    expect(worker).toHaveTextContent('connection refused')
    expect(screen.getAllByText('UP')).toHaveLength(3)

    expect(screen.getByText('5')).toBeInTheDocument()
    expect(screen.getByText('oldest waiting 2 min 5 s')).toBeInTheDocument()
    expect(screen.getByRole('link', { name: 'Inspect the NEW entries' })).toHaveAttribute('href', '/dlq?status=NEW')

    const chart = await screen.findByTestId('chart')
    expect(within(chart).getAllByRole('listitem')).toHaveLength(60)
    expect(screen.getByText(/66 completed and 2 failed in the last 60 minutes; last minute: 7 completed, 0 failed/)).toBeInTheDocument()
  })

  it('shows the error of each part that could not be read', async () => {
    stubApi({
      'GET /api/system': {
        body: status({
          lag: null,
          throughput: null,
          due: null,
          errors: { lag: 'kadm: broker unreachable', throughput: 'scheduler stats: 503', due: 'scheduler stats: 503', outbox: 'worker: connection refused' },
        }),
      },
    })
    renderAt('/system')
    expect(await screen.findByText(/kadm: broker unreachable/)).toBeInTheDocument()
    expect(screen.getAllByText(/scheduler stats: 503/)).toHaveLength(3) // the card, the panel and due
    expect(screen.queryByRole('table', { name: 'Consumer lag' })).not.toBeInTheDocument()
    // The outbox answered in part: its rows and its error both show.
    expect(screen.getByRole('table', { name: 'Outbox backlog' })).toBeInTheDocument()
    expect(screen.getByText(/worker: connection refused/, { selector: 'p' })).toHaveTextContent('partial')
  })

  it('says so when the server has no /api/system yet', async () => {
    stubApi({})
    renderAt('/system')
    expect(await screen.findByRole('alert')).toHaveTextContent('not available on this server yet (the API answered 404)')
  })
})
