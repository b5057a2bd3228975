// The retry timeline: each attempt a bar on one time axis, coloured by outcome,
// with the waits between attempts drawn to the same scale and labelled. Plain
// SVG laid out in real pixels (see timeline.ts), with a text fallback.
import { useId } from 'react'
import { useElementWidth } from '../../components/useElementWidth'
import { describe, layout, outcomeWord, type TimelineInput } from './timeline'
import { fmtSpan } from './format'

export function RetryTimeline({ input }: { input: TimelineInput }) {
  const [ref, width] = useElementWidth<HTMLDivElement>(800)
  const g = layout(input, width)
  const id = useId()
  const lines = describe(g)
  const { rows } = g
  const mid = rows.barTop + rows.barHeight / 2

  if (g.bars.length === 0 && g.gaps.length === 0) {
    return <p className="state empty">{input.job.status === 'WAITING'
          ? 'No attempt has finished yet: the job is parked.'
          : input.job.status === 'PENDING' || input.job.status === 'RUNNING'
            ? 'No attempt has started yet.'
            : 'No attempt ran.'}</p>
  }
  const summary = `${g.bars.length} attempt${g.bars.length === 1 ? '' : 's'} over ${fmtSpan(g.t1 - g.t0)}`
  return (
    <div className="timeline" ref={ref}>
      <svg
        role="img"
        aria-labelledby={`${id}-t ${id}-d`}
        width={g.width}
        height={g.height}
        viewBox={`0 0 ${g.width} ${g.height}`}
        data-scale={g.scale}
        data-t0={g.t0}
        data-t1={g.t1}
      >
        <title id={`${id}-t`}>Retry timeline: {summary}</title>
        <desc id={`${id}-d`}>{lines.join('. ')}.</desc>
        <line className="tl-axis" x1={g.ticks[0]?.x ?? 0} x2={g.width - 12} y1={rows.axis} y2={rows.axis} />
        {g.ticks.map((t) => (
          <g key={t.x} className="tl-tick">
            <line x1={t.x} x2={t.x} y1={rows.axis} y2={rows.axis + 4} />
            <text x={t.x} y={rows.tickLabel} textAnchor="middle">
              {t.label}
            </text>
          </g>
        ))}
        {g.gaps.map((gp, i) => (
          <g
            key={`gap-${i}`}
            className={`tl-gap tl-gap-${gp.kind}`}
            data-kind={gp.kind}
            data-from-attempt={gp.fromAttempt ?? ''}
            data-to-attempt={gp.toAttempt ?? ''}
            data-gap-ms={gp.ms}
            data-x={gp.x.toFixed(2)}
            data-width={gp.w.toFixed(2)}
          >
            <title>{gp.label}</title>
            <line x1={gp.x} x2={gp.x + gp.w} y1={mid} y2={mid} />
            <line x1={gp.x} x2={gp.x} y1={mid - 5} y2={mid + 5} />
            <line x1={gp.x + gp.w} x2={gp.x + gp.w} y1={mid - 5} y2={mid + 5} />
            {gp.shown && (
              <text x={gp.labelX} y={rows.label} textAnchor="middle">
                {gp.shown}
              </text>
            )}
          </g>
        ))}
        {g.bars.map((b) => (
          <g
            key={`bar-${b.attempt}`}
            className={`tl-bar tl-${b.outcome.toLowerCase()}`}
            data-attempt={b.attempt}
            data-outcome={b.outcome}
            data-x={b.x.toFixed(2)}
            data-width={b.w.toFixed(2)}
          >
            <title>
              Attempt {b.attempt}: {outcomeWord(b.outcome)}, {fmtSpan(b.end - b.start)}
              {b.errorCode ? ` (${b.errorCode})` : ''}
            </title>
            <rect x={b.x} y={rows.barTop} width={Math.max(b.w, 3)} height={rows.barHeight} rx={3} />
            {b.w >= 26 && (
              <text x={b.x + Math.max(b.w, 3) / 2} y={mid + 4} textAnchor="middle">
                #{b.attempt}
              </text>
            )}
          </g>
        ))}
        {g.markers.map((m, i) => (
          <g key={`m-${i}`} className={`tl-marker tl-marker-${m.kind.toLowerCase()}`} data-marker={m.kind} data-x={m.x.toFixed(2)}>
            <title>{m.label}</title>
            <line x1={m.x} x2={m.x} y1={rows.barTop - 6} y2={rows.axis} />
            <path d={`M${m.x - 5},${rows.barTop - 12} L${m.x + 5},${rows.barTop - 12} L${m.x},${rows.barTop - 5} Z`} />
          </g>
        ))}
      </svg>
      <ul className="tl-legend" aria-hidden="true">
        <li><span className="sw tl-completed" /> succeeded</li>
        <li><span className="sw tl-failed" /> failed</li>
        <li><span className="sw tl-running" /> running</li>
        <li><span className="sw tl-lease_expired" /> lease expired</li>
        <li><span className="sw sw-gap" /> wait (to scale)</li>
        {g.markers.some((m) => m.kind === 'MANUAL_RETRY') && <li><span className="sw sw-manual">▼</span> manual retry</li>}
      </ul>
      <details className="tl-text">
        <summary>The timeline as text</summary>
        <ol>
          {lines.map((l, i) => (
            <li key={i}>{l}</li>
          ))}
        </ol>
      </details>
    </div>
  )
}
