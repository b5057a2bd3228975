// A step's output: pretty JSON with a copy button; a large one folds behind a
// summary that says how large it is, and an output the API left out of the
// page (outputOmitted) says so instead.
import { CopyButton } from './CopyButton'

/** Outputs longer than this many lines (or characters) start folded. */
export const FOLD_LINES = 30
export const FOLD_CHARS = 3000

export function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`
  return `${(n / (1024 * 1024)).toFixed(1)} MiB`
}

export function JsonOutput({ value, omitted, label }: { value: unknown; omitted?: boolean; label: string }) {
  if (omitted)
    return (
      <p className="output-omitted muted" data-testid="output-omitted">
        Output omitted: this page of attempts passed the API's 4 MiB of outputs. Ask the API for a smaller page (
        <code>/executions?size=1</code>) to see it.
      </p>
    )
  if (value === undefined) return null
  const text = JSON.stringify(value, null, 2) ?? 'null'
  const lines = text.split('\n').length
  const size = new TextEncoder().encode(JSON.stringify(value)).length
  const pre = (
    <pre className="json output-json" tabIndex={0} aria-label={label}>
      {text}
    </pre>
  )
  const copy = <CopyButton text={text} what={label.toLowerCase()} />
  if (lines <= FOLD_LINES && text.length <= FOLD_CHARS)
    return (
      <div className="output">
        <div className="output-bar">{copy}</div>
        {pre}
      </div>
    )
  return (
    <details className="output output-large">
      <summary>
        {label}: {lines} lines, {fmtBytes(size)}
      </summary>
      <div className="output-bar">{copy}</div>
      {pre}
    </details>
  )
}
