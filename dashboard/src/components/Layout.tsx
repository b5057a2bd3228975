// The frame around every view: navigation, the live-refresh control, the view.
import { Link, Outlet } from '@tanstack/react-router'
import { PollControl } from '../poll/poll'

const NAV = [
  { to: '/', label: 'Jobs' },
  { to: '/submit', label: 'Submit' },
  { to: '/dlq', label: 'Dead letters' },
  { to: '/system', label: 'System' },
] as const

export function Layout() {
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
          {NAV.map((n) => (
            <Link key={n.to} to={n.to} activeOptions={{ exact: n.to === '/' }} activeProps={{ className: 'active', 'aria-current': 'page' }}>
              {n.label}
            </Link>
          ))}
        </nav>
        <PollControl />
      </header>
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
