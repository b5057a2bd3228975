// Job IDs are UUIDv7: their head is a timestamp that neighbouring jobs share, so
// the console shows the tail (or the whole ID), never the head.
export function idTail(id: string, n = 12): string {
  return id.length <= n ? id : `…${id.slice(-n)}`
}

export function JobId({ id, full = false }: { id: string; full?: boolean }) {
  return (
    <code className="job-id" title={id}>
      {full ? id : idTail(id)}
    </code>
  )
}
