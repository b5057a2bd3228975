// The console's routes. Filters live in the URL's search params, so a view can
// be shared by its link. Each view is its own module under views/.
import { createRootRoute, createRoute, createRouter } from '@tanstack/react-router'
import { Layout, NotFound } from './components/Layout'
import { JobsView, jobsSearch } from './views/jobs/JobsView'
import { JobView } from './views/jobs/JobView'
import { SubmitView } from './views/submit/SubmitView'
import { DlqView, dlqSearch } from './views/dlq/DlqView'
import { DlqEntryView } from './views/dlq/DlqEntryView'
import { SystemView } from './views/system/SystemView'
import { KeysView } from './views/admin/KeysView'
import { AuditView, auditSearch } from './views/admin/AuditView'

const rootRoute = createRootRoute({ component: Layout, notFoundComponent: NotFound })

export const jobsRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/',
  validateSearch: jobsSearch,
  component: JobsView,
})
export const jobRoute = createRoute({ getParentRoute: () => rootRoute, path: '/jobs/$jobId', component: JobView })
export const submitRoute = createRoute({ getParentRoute: () => rootRoute, path: '/submit', component: SubmitView })
export const dlqRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/dlq',
  validateSearch: dlqSearch,
  component: DlqView,
})
export const dlqEntryRoute = createRoute({ getParentRoute: () => rootRoute, path: '/dlq/$dlqId', component: DlqEntryView })
export const systemRoute = createRoute({ getParentRoute: () => rootRoute, path: '/system', component: SystemView })
export const keysRoute = createRoute({ getParentRoute: () => rootRoute, path: '/keys', component: KeysView })
export const auditRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/audit',
  validateSearch: auditSearch,
  component: AuditView,
})

const routeTree = rootRoute.addChildren([jobsRoute, jobRoute, submitRoute, dlqRoute, dlqEntryRoute, systemRoute, keysRoute, auditRoute])

export function makeRouter() {
  return createRouter({ routeTree, defaultPreload: false })
}

export const router = makeRouter()

declare module '@tanstack/react-router' {
  interface Register {
    router: typeof router
  }
}
