// Signing in. At load the console asks GET /api/whoami: with API_AUTH=none the
// answer is the anonymous admin and there is no sign-in at all; a 401 shows the
// sign-in page, where an API key (jw_...) or a JWT is pasted. Later, any 401
// (the key revoked or expired, the token expired) comes back here with the
// API's message as the reason. useCan() tells the views what the role may do,
// so that they hide (not just disable) what it may not.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type FormEvent, type ReactNode } from 'react'
import { useQueryClient } from '@tanstack/react-query'
import { ApiError, fetchWhoami, resetEtagCache } from '../api/client'
import type { Role, Whoami } from '../api/types'
import { describeProblem } from '../components/apiProblem'
import { clearCredential, getCredential, onUnauthenticated, setCredential } from './session'

const RANK: Record<Role, number> = { viewer: 1, operator: 2, admin: 3 }

interface AuthValue {
  me: Whoami
  signOut: () => void
}

// Without an AuthGate (component tests of a single view), the caller is the
// one API_AUTH=none gives: the anonymous admin, who sees everything.
const AuthContext = createContext<AuthValue>({
  me: { caller: 'anonymous', role: 'admin', auth: 'none' },
  signOut: () => {},
})

export function useAuth(): AuthValue {
  return useContext(AuthContext)
}

/** Whether the signed-in role is at least role. */
export function roleAllows(has: Role, need: Role): boolean {
  return (RANK[has] ?? 0) >= RANK[need]
}

export function useCan(need: Role): boolean {
  return roleAllows(useAuth().me.role, need)
}

/** Renders children only when the role is at least role. */
export function IfRole({ role, children }: { role: Role; children: ReactNode }) {
  return useCan(role) ? <>{children}</> : null
}

/** A view's stand-in for a role too low to use it (a link typed or shared). */
export function RoleRequired({ role, what, children }: { role: Role; what: string; children: ReactNode }) {
  const { me } = useAuth()
  if (roleAllows(me.role, role)) return <>{children}</>
  return (
    <section>
      <h1>Not for your role</h1>
      <p className="state">
        To {what} you need the {role} role or higher; you are signed in as {me.role}.
      </p>
    </section>
  )
}

type State =
  | { kind: 'loading' }
  | { kind: 'in'; me: Whoami }
  | { kind: 'out'; reason?: string; needs?: string }
  | { kind: 'failed'; error: unknown }

/** Asks who the caller is, then shows children, or the sign-in page. */
export function AuthGate({ children }: { children: ReactNode }) {
  const qc = useQueryClient()
  const [state, setState] = useState<State>({ kind: 'loading' })

  const forget = useCallback(() => {
    clearCredential()
    qc.clear()
    resetEtagCache()
  }, [qc])

  const check = useCallback(async () => {
    setState({ kind: 'loading' })
    try {
      setState({ kind: 'in', me: await fetchWhoami() })
    } catch (err) {
      if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
        const had = getCredential() !== null
        forget()
        // Without a credential, the 401's message says what this API takes (a key, a JWT, either).
        setState({ kind: 'out', reason: had ? describeProblem(err) : undefined, needs: had ? undefined : err.message })
      } else {
        setState({ kind: 'failed', error: err })
      }
    }
  }, [forget])

  useEffect(() => {
    void check()
  }, [check])

  useEffect(
    () =>
      onUnauthenticated((err) => {
        forget()
        setState({ kind: 'out', reason: describeProblem(err) })
      }),
    [forget],
  )

  const value = useMemo<AuthValue | null>(
    () =>
      state.kind === 'in'
        ? {
            me: state.me,
            signOut: () => {
              forget()
              setState({ kind: 'out' })
            },
          }
        : null,
    [state, forget],
  )

  switch (state.kind) {
    case 'loading':
      return (
        <p className="state loading auth-loading" role="status">
          Connecting to the API…
        </p>
      )
    case 'failed':
      return (
        <main className="sign-in">
          <h1>JobWeaver</h1>
          <p className="state error" role="alert">
            The API did not say who you are: {describeProblem(state.error)}
          </p>
          <button type="button" onClick={() => void check()}>
            Try again
          </button>
        </main>
      )
    case 'out':
      return (
        <SignIn
          reason={state.reason}
          needs={state.needs}
          onSignedIn={(me) => {
            qc.clear()
            resetEtagCache()
            setState({ kind: 'in', me })
          }}
        />
      )
  }
  return <AuthContext.Provider value={value!}>{children}</AuthContext.Provider>
}

/** The sign-in page: paste a key or a token; the API checks it (GET /api/whoami). */
export function SignIn({ reason, needs, onSignedIn }: { reason?: string; needs?: string; onSignedIn: (me: Whoami) => void }) {
  const [credential, setValue] = useState('')
  const [remember, setRemember] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)

  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault()
    const c = credential.trim().replace(/^Bearer\s+/i, '')
    if (!c) {
      setError('Paste an API key (jw_…) or a JWT.')
      return
    }
    setBusy(true)
    setError(null)
    try {
      const me = await fetchWhoami(c)
      setCredential(c, remember)
      onSignedIn(me)
    } catch (err) {
      setError(describeProblem(err))
      setBusy(false)
    }
  }

  return (
    <main className="sign-in" id="main">
      <h1>Sign in to JobWeaver</h1>
      {reason && (
        <p className="state error" role="alert">
          You were signed out: {reason}
        </p>
      )}
      {needs && <p className="hint api-needs">The API says: {needs}.</p>}
      <form onSubmit={submit} noValidate>
        <label htmlFor="credential">API key or token</label>
        <input
          id="credential"
          type="password"
          autoComplete="off"
          spellCheck={false}
          placeholder="jw_… or a JWT"
          value={credential}
          onChange={(e) => setValue(e.target.value)}
          aria-describedby="credential-help"
          aria-invalid={error !== null}
        />
        <p id="credential-help" className="hint">
          An API key from your admin (<code>POST /api/keys</code>; <code>make run</code> prints the first admin key) or a JWT
          from the API&apos;s issuer. It is sent as <code>Authorization: Bearer</code> to this API only, and kept in this
          tab until you sign out or close it.
        </p>
        <label className="checkbox">
          <input type="checkbox" checked={remember} onChange={(e) => setRemember(e.target.checked)} /> Remember on this device
          (kept in this browser&apos;s local storage, for every tab, until you sign out)
        </label>
        {error && (
          <p className="state error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  )
}

/** The header's part: who is signed in, and Sign out; or a quiet "auth off". */
export function CallerBadge() {
  const { me, signOut } = useAuth()
  if (me.auth === 'none') {
    return (
      <span className="caller auth-off" title="The API runs with API_AUTH=none: no sign-in, and every visitor may do anything.">
        auth off
      </span>
    )
  }
  return (
    <span className="caller">
      <span title={me.caller}>
        {me.name ?? me.caller} <span className="role">({me.role})</span>
      </span>
      <button type="button" onClick={signOut}>
        Sign out
      </button>
    </span>
  )
}
