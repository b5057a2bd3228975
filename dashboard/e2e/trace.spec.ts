// The job page's trace waterfall, against a real stack: a job submitted with an
// X-Trace-Id shows the spans of the four functions in one trace, the worker's
// steps below its attempt, and the queries only when asked for.
import { expect, test } from '@playwright/test'
import { submitJob, uniqueTrace } from './ops.helpers'

test("a job's page draws its trace across the four functions", async ({ page, request }) => {
  const errors: string[] = []
  page.on('pageerror', (e) => errors.push(e.message))
  const trace = uniqueTrace('e2e-trace')
  const jobId = await submitJob(
    request,
    { maxRetryCount: 0, payload: { steps: [{ action: 'LOG', message: 'traced' }, { action: 'FAIL', message: 'to the dlq' }] } },
    trace,
  )
  // The last hop, the dlq's store, lands just after the job is FAILED.
  await expect
    .poll(
      async () => {
        const res = await request.get(`/api/jobs/${jobId}/trace`)
        if (!res.ok()) return []
        const body = (await res.json()) as { spans: { service: string; name: string }[] }
        return [...new Set(body.spans.map((s) => s.service))].sort()
      },
      { timeout: 60_000, intervals: [500, 1000, 2000] },
    )
    .toEqual(['api', 'dlq', 'scheduler', 'worker'])

  await page.goto(`/jobs/${jobId}`)
  const waterfall = page.getByTestId('trace-waterfall')
  await expect(waterfall).toBeVisible({ timeout: 30_000 })
  for (const svc of ['api', 'scheduler', 'worker', 'dlq']) {
    await expect(waterfall.locator(`[data-testid="trace-span"][data-service="${svc}"]`).first()).toBeVisible()
  }
  const attempt = waterfall.locator('[data-testid="trace-span"][data-name="worker attempt"]')
  const step = waterfall.locator('[data-testid="trace-span"][data-name="worker step LOG"]')
  await expect(attempt).toHaveCount(1)
  await expect(step).toHaveCount(1)
  const depth = Number(await attempt.getAttribute('data-depth'))
  await expect(step).toHaveAttribute('data-depth', String(depth + 1))
  await expect(waterfall.locator('[data-testid="trace-span"][data-name="dlq store"]')).toHaveCount(1)

  // Queries are folded until asked for.
  const queries = waterfall.locator('[data-testid="trace-span"][data-name="pool.acquire"]')
  await expect(queries).toHaveCount(0)
  await waterfall.getByLabel(/show queries/).check()
  await expect(queries.first()).toBeVisible()
  expect(errors).toEqual([])
})
