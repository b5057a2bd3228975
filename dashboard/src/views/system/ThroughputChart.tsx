// The throughput chart: completed and failed jobs per minute over the last
// hour, drawn with uPlot. This module (and uPlot with its CSS) is loaded
// lazily, so the chart library is not part of the console's first load.
import { useEffect, useRef } from 'react'
import uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'

export interface ThroughputPoint {
  at: string
  completed: number
  failed: number
}

function cssVar(name: string, fallback: string): string {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim()
  return v || fallback
}

export default function ThroughputChart({ points, height = 220 }: { points: ThroughputPoint[]; height?: number }) {
  const box = useRef<HTMLDivElement>(null)
  const plot = useRef<uPlot | null>(null)

  const data: uPlot.AlignedData = [
    points.map((p) => Math.floor(new Date(p.at).getTime() / 1000)),
    points.map((p) => p.completed),
    points.map((p) => p.failed),
  ]

  useEffect(() => {
    const el = box.current
    if (!el) return
    const ok = cssVar('--ok', '#166534')
    const bad = cssVar('--bad', '#b91c1c')
    const fg = cssVar('--muted', '#525866')
    const grid = cssVar('--line', '#d5d9e0')
    const axis = { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } }
    const opts: uPlot.Options = {
      width: Math.max(280, el.clientWidth),
      height,
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(5, Math.ceil(max * 1.1))] } },
      axes: [axis, { ...axis, label: 'jobs / min', size: 50 }],
      series: [
        {},
        { label: 'completed', stroke: ok, width: 2, fill: `${ok}22`, points: { show: false } },
        { label: 'failed', stroke: bad, width: 2, points: { show: false } },
      ],
      legend: { show: true },
    }
    const u = new uPlot(opts, data, el)
    plot.current = u
    const ro = typeof ResizeObserver === 'undefined' ? null : new ResizeObserver(() => u.setSize({ width: Math.max(280, el.clientWidth), height }))
    ro?.observe(el)
    return () => {
      ro?.disconnect()
      u.destroy()
      plot.current = null
    }
    // Built once; data updates go through setData below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [height])

  useEffect(() => {
    plot.current?.setData(data)
  })

  return <div ref={box} className="throughput-chart" data-testid="throughput-chart" />
}
