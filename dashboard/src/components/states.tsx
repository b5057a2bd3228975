// The loading, error and empty states every view shows the same way.
import { ApiError } from '../api/client'

export function Loading({ what = 'Loading' }: { what?: string }) {
  return (
    <p className="state loading" role="status">
      {what}…
    </p>
  )
}

export function ErrorState({ error, retry }: { error: unknown; retry?: () => void }) {
  const msg = error instanceof Error ? error.message : String(error)
  const code = error instanceof ApiError ? error.code : undefined
  return (
    <div className="state error" role="alert">
      <strong>Something went wrong{code ? ` (${code})` : ''}.</strong> <span>{msg}</span>
      {retry && (
        <button type="button" onClick={retry}>
          Try again
        </button>
      )}
    </div>
  )
}

export function Empty({ children }: { children: React.ReactNode }) {
  return <p className="state empty">{children}</p>
}
