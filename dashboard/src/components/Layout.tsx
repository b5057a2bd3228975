// The frame around every view: navigation (what the role may use), the
// live-refresh control, who is signed in, the view.
import { Link, Outlet } from '@tanstack/react-router'
import type { Role } from '../api/types'
import { CallerBadge, useAuth, roleAllows } from '../auth/auth'
import { useRateLimitedUntil } from '../auth/rateLimit'
import { PollControl } from '../poll/poll'

const NAV: readonly { to: '/' | '/submit' | '/dlq' | '/system' | '/keys' | '/audit'; label: string; role: Role }[] = [
  { to: '/', label: 'Jobs', role: 'viewer' },
  { to: '/submit', label: 'Submit', role: 'operator' },
  { to: '/dlq', label: 'Dead letters', role: 'viewer' },
  { to: '/system', label: 'System', role: 'viewer' },
  { to: '/keys', label: 'API keys', role: 'admin' },
  { to: '/audit', label: 'Audit', role: 'admin' },
]

/** A notice while the API's rate limit makes the live refresh wait. */
function RateLimitNotice() {
  const until = useRateLimitedUntil()
  if (!until) return null
  return (
    <p className="state error rate-limited" role="status">
      The API&apos;s rate limit was reached (429 API.RATE_LIMITED): live refresh waits until {new Date(until).toLocaleTimeString()}.
    </p>
  )
}

export function Layout() {
  const { me } = useAuth()
  // With auth off there is nothing to manage keys with: the keys and audit views
  // answer only with a key of an admin.
  const nav = NAV.filter((n) => roleAllows(me.role, n.role) && (me.auth !== 'none' || n.role !== 'admin'))
  return (
    <div className="app">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link to="/" className="brand">
          JobWeaver
        </Link>
        <nav aria-label="Main">
          {nav.map((n) => (
            <Link key={n.to} to={n.to} activeOptions={{ exact: n.to === '/' }} activeProps={{ className: 'active', 'aria-current': 'page' }}>
              {n.label}
            </Link>
          ))}
        </nav>
        <PollControl />
        <CallerBadge />
      </header>
      <RateLimitNotice />
      <main id="main" tabIndex={-1}>
        <Outlet />
      </main>
    </div>
  )
}

export function NotFound() {
  return (
    <section>
      <h1>Not found</h1>
      <p>
        There is no page here. <Link to="/">Back to the jobs</Link>.
      </p>
    </section>
  )
}
