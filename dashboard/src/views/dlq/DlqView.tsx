// Placeholder: a UI helper replaces this view.
import type { DeadLetterFilter } from '../../api/types'

export function dlqSearch(s: Record<string, unknown>): DeadLetterFilter {
  const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined)
  return {
    status: str(s.status),
    jobType: str(s.jobType),
    errorCode: str(s.errorCode),
    reason: str(s.reason),
    traceId: str(s.traceId),
    from: str(s.from),
    to: str(s.to),
  }
}

export function DlqView() {
  return (
    <section>
      <h1>Dead letters</h1>
    </section>
  )
}
