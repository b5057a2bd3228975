import { describe, expect, it } from 'vitest'
import { isQuery, waterfallRows, type TraceSpan } from './TraceWaterfall'

const T0 = Date.parse('2026-12-05T03:00:00.000Z')

function span(spanId: string, parentSpanId: string, name: string, startMs: number, endMs: number, attributes: Record<string, unknown> = {}): TraceSpan {
  return {
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    spanId,
    parentSpanId,
    name,
    service: name.split(' ')[0],
    start: new Date(T0 + startMs).toISOString(),
    end: new Date(T0 + endMs).toISOString(),
    attributes,
  }
}

describe('trace waterfall rows', () => {
  it('puts each parent before its children, siblings by start, with their depth', () => {
    const rows = waterfallRows([
      span('s2', 'r', 'scheduler ingest', 5, 9),
      span('w', 's2', 'worker attempt', 10, 20),
      span('r', '', 'api request', 0, 4),
      span('s1', 'w', 'worker step SLEEP', 12, 19),
      span('s0', 'w', 'worker step LOG', 10, 11),
    ])
    expect(rows.map((r) => [r.span.spanId, r.depth])).toEqual([
      ['r', 0],
      ['s2', 1],
      ['w', 2],
      ['s0', 3],
      ['s1', 3],
    ])
    expect(rows[2].end - rows[2].start).toBe(10)
  })

  it('makes a span whose parent is missing a root, and never loops', () => {
    const rows = waterfallRows([span('a', 'gone', 'dlq store', 3, 4), span('b', 'b', 'api request', 0, 1)])
    expect(rows.map((r) => [r.span.spanId, r.depth])).toEqual([
      ['b', 0],
      ['a', 0],
    ])
  })

  it('tells queries from hops', () => {
    expect(isQuery(span('q', 'r', 'INSERT', 0, 1, { 'db.system.name': 'postgresql' }))).toBe(true)
    expect(isQuery(span('p', 'r', 'pool.acquire', 0, 1))).toBe(true)
    expect(isQuery(span('h', 'r', 'scheduler dispatch', 0, 1, { 'jobweaver.job.id': 'x' }))).toBe(false)
  })
})
