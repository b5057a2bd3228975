// How often the views refresh: every 2 s by default, with a pause control and a
// choice of interval, kept in localStorage. Views pass usePollInterval() to
// TanStack Query's refetchInterval.
import { createContext, useContext, useEffect, useMemo, useState, type ReactNode } from 'react'
import { useRateLimitedUntil } from '../auth/rateLimit'

export const POLL_CHOICES = [1000, 2000, 5000, 10000] as const
const KEY = 'jobweaver.poll'

interface PollState {
  intervalMs: number
  paused: boolean
  setIntervalMs: (ms: number) => void
  setPaused: (p: boolean) => void
}

const PollContext = createContext<PollState | null>(null)

function load(): { intervalMs: number; paused: boolean } {
  try {
    const v = JSON.parse(localStorage.getItem(KEY) ?? '{}') as { intervalMs?: number; paused?: boolean }
    const ms = POLL_CHOICES.includes(v.intervalMs as (typeof POLL_CHOICES)[number]) ? (v.intervalMs as number) : 2000
    return { intervalMs: ms, paused: v.paused === true }
  } catch {
    return { intervalMs: 2000, paused: false }
  }
}

export function PollProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState(load)
  useEffect(() => {
    localStorage.setItem(KEY, JSON.stringify(state))
  }, [state])
  const value = useMemo<PollState>(
    () => ({
      ...state,
      setIntervalMs: (intervalMs) => setState((s) => ({ ...s, intervalMs })),
      setPaused: (paused) => setState((s) => ({ ...s, paused })),
    }),
    [state],
  )
  return <PollContext.Provider value={value}>{children}</PollContext.Provider>
}

export function usePoll(): PollState {
  const v = useContext(PollContext)
  if (!v) throw new Error('usePoll outside PollProvider')
  return v
}

/** The refetchInterval for TanStack Query: false while paused, or while a 429's Retry-After lasts. */
export function usePollInterval(): number | false {
  const { intervalMs, paused } = usePoll()
  const limited = useRateLimitedUntil()
  return paused || limited ? false : intervalMs
}

export function PollControl() {
  const { intervalMs, paused, setIntervalMs, setPaused } = usePoll()
  return (
    <div className="poll-control" role="group" aria-label="Live refresh">
      <button type="button" onClick={() => setPaused(!paused)} aria-pressed={paused}>
        {paused ? 'Resume' : 'Pause'}
      </button>
      <label>
        <span className="visually-hidden">Refresh interval</span>
        <select value={intervalMs} onChange={(e) => setIntervalMs(Number(e.target.value))} disabled={paused}>
          {POLL_CHOICES.map((ms) => (
            <option key={ms} value={ms}>
              every {ms / 1000} s
            </option>
          ))}
        </select>
      </label>
      <span className={paused ? 'live-dot paused' : 'live-dot'} aria-live="polite">
        {paused ? 'paused' : 'live'}
      </span>
    </div>
  )
}
