// Helpers for the ops views' browser tests: talk to the API the console uses
// (same origin), wait for what the backend does asynchronously, and save a
// view's screenshot when UPDATE_SCREENSHOTS=1.
// Not a spec itself: Playwright's testMatch takes *.spec.ts only.
import { expect, type APIRequestContext, type Page } from '@playwright/test'
import { saveScreenshot, updateScreenshots } from './screenshots'

export interface DeadLetterRow {
  id?: string
  eventId?: string
  jobId: string | null
  traceId: string
  status?: string
}

export const entryId = (d: DeadLetterRow) => (d.eventId ?? d.id) as string

/** A trace ID no other run shares, so a filter by it sees only this test's jobs. */
export function uniqueTrace(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`
}

export async function submitJob(
  request: APIRequestContext,
  body: { maxRetryCount?: number; payload: { steps: unknown[] } },
  traceId?: string,
): Promise<string> {
  const res = await request.post('/api/jobs', {
    data: { jobType: 'SIMULATION', ...body },
    headers: traceId ? { 'X-Trace-Id': traceId } : {},
  })
  expect(res.status(), await res.text()).toBeLessThan(300)
  return ((await res.json()) as { jobId: string }).jobId
}

/** Waits until the dead letters of this trace hold one for each job, and returns them. */
export async function deadLettersFor(request: APIRequestContext, traceId: string, jobIds: string[]): Promise<DeadLetterRow[]> {
  let found: DeadLetterRow[] = []
  await expect
    .poll(
      async () => {
        const res = await request.get(`/api/dlq?traceId=${encodeURIComponent(traceId)}&size=100`)
        if (!res.ok()) return 0
        const page = (await res.json()) as { content: DeadLetterRow[] }
        // Filter here too: the list may not know the traceId filter on an older backend.
        found = page.content.filter((d) => d.traceId === traceId && d.jobId !== null && jobIds.includes(d.jobId))
        return new Set(found.map((d) => d.jobId)).size
      },
      { timeout: 90_000, intervals: [500, 1000, 2000] },
    )
    .toBe(jobIds.length)
  return found
}

/** Saves docs/screenshots/<name>.png at 1280x800 when UPDATE_SCREENSHOTS=1 (e2e/screenshots.ts). */
export async function screenshot(page: Page, name: string): Promise<void> {
  if (!updateScreenshots) return
  await page.setViewportSize({ width: 1280, height: 800 })
  await saveScreenshot(page, name)
}
