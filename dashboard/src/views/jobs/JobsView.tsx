// Placeholder: a UI helper replaces this view.
export interface JobsSearch {
  status?: string
  type?: string
  traceId?: string
  from?: string
  to?: string
}

export function jobsSearch(s: Record<string, unknown>): JobsSearch {
  const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined)
  return { status: str(s.status), type: str(s.type), traceId: str(s.traceId), from: str(s.from), to: str(s.to) }
}

export function JobsView() {
  return (
    <section>
      <h1>Jobs</h1>
    </section>
  )
}
