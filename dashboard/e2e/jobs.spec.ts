// The job views end to end, against a real stack: a job submitted through the
// API goes COMPLETED on the home page without a reload; a failTimes job's page
// draws its backoff gaps growing; the status filter changes the list and the URL.
import { expect, test, type APIRequestContext } from '@playwright/test'
import { saveScreenshot } from './screenshots'

type Step = Record<string, unknown>

async function submit(request: APIRequestContext, steps: Step[], maxRetryCount = 3): Promise<string> {
  const res = await request.post('/api/jobs', { data: { jobType: 'SIMULATION', maxRetryCount, payload: { steps } } })
  expect(res.status(), await res.text()).toBe(202)
  return ((await res.json()) as { jobId: string }).jobId
}

async function waitForStatus(request: APIRequestContext, jobId: string, status: string): Promise<void> {
  await expect
    .poll(async () => ((await (await request.get(`/api/jobs/${jobId}`)).json()) as { status: string }).status, { timeout: 30_000 })
    .toBe(status)
}

test('a job submitted through the API goes COMPLETED on the home page without a reload', async ({ page, request }) => {
  const errors: string[] = []
  page.on('pageerror', (e) => errors.push(e.message))
  await page.goto('/')
  await expect(page.getByRole('heading', { name: 'Jobs', level: 1 })).toBeVisible()
  // A marker on the window: a reload would lose it.
  await page.evaluate(() => ((window as unknown as { __noReload: boolean }).__noReload = true))

  const jobId = await submit(request, [
    { action: 'LOG', message: 'e2e: shows up live' },
    { action: 'SLEEP', durationMs: 500 },
  ])
  const row = page.locator(`tr[data-job-id="${jobId}"]`)
  await expect(row).toBeVisible({ timeout: 30_000 })
  await expect(row).toHaveAttribute('data-status', 'COMPLETED', { timeout: 30_000 })
  await expect(row.getByText('COMPLETED')).toBeVisible()
  // The row shows the ID's tail, never its head.
  await expect(row.getByRole('link')).toHaveText(`…${jobId.slice(-12)}`)
  expect(await page.evaluate(() => (window as unknown as { __noReload?: boolean }).__noReload)).toBe(true)
  expect(errors).toEqual([])
})

test('a failTimes job’s page shows its backoff gaps growing on the retry timeline', async ({ page, request }) => {
  const jobId = await submit(
    request,
    [
      { action: 'LOG', message: 'e2e: retried three times' },
      { action: 'SLEEP', durationMs: 200 },
      { action: 'FAIL', message: 'flaky', failTimes: 3 },
    ],
    3,
  )
  await page.goto(`/jobs/${jobId}`)
  await expect(page.getByTestId('job-id')).toHaveText(jobId)
  // Live: the page follows the job to its end without a reload.
  await expect(page.getByRole('heading', { level: 1 })).toContainText('COMPLETED', { timeout: 30_000 })

  const timeline = page.getByRole('img', { name: /Retry timeline/ })
  await expect(timeline.locator('[data-attempt]')).toHaveCount(4, { timeout: 15_000 })
  await expect(timeline.locator('[data-outcome="FAILED"]')).toHaveCount(3)
  await expect(timeline.locator('[data-outcome="COMPLETED"]')).toHaveCount(1)
  const gaps = timeline.locator('[data-kind="backoff"]')
  await expect(gaps).toHaveCount(3)
  const widths = await gaps.evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-width'))))
  const waits = await gaps.evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-gap-ms'))))
  // Backoff base 1 s, doubling (±20 % jitter): about 1 s, 2 s, then 4 s, drawn to scale.
  // First against last, so a busy machine's dispatch delay cannot invert them.
  expect(waits[2]).toBeGreaterThan(waits[0])
  expect(widths[2]).toBeGreaterThan(widths[0])
  expect(widths[2] / widths[0]).toBeCloseTo(waits[2] / waits[0], 1)
  await expect(timeline.locator('desc')).toContainText('Waited')

  // Execution history: every attempt with its steps (the latest three open).
  await expect(page.getByRole('table', { name: 'Steps of attempt 2' })).toContainText('step failed: flaky')
  await expect(page.getByRole('table', { name: 'Steps of attempt 4' })).toBeVisible()
  await saveScreenshot(page, 'job')
})

test('changing the status filter changes the list and the URL', async ({ page, request }) => {
  const failed = await submit(request, [{ action: 'FAIL', message: 'e2e: always' }], 0)
  const completed = await submit(request, [{ action: 'LOG', message: 'e2e: fine' }], 0)
  await waitForStatus(request, failed, 'FAILED')
  await waitForStatus(request, completed, 'COMPLETED')

  await page.goto('/')
  const rows = page.locator('tbody tr[data-job-id]')
  await expect(page.locator(`tr[data-job-id="${completed}"]`)).toBeVisible()

  const status = page.getByLabel('Status', { exact: true })
  await status.selectOption('FAILED')
  await expect(page).toHaveURL(/[?&]status=FAILED\b/)
  await expect(page.locator(`tr[data-job-id="${failed}"]`)).toBeVisible()
  await expect(page.locator(`tr[data-job-id="${completed}"]`)).toHaveCount(0)
  await expect
    .poll(async () => [...new Set(await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-status'))))])
    .toEqual(['FAILED'])

  await status.selectOption('COMPLETED')
  await expect(page).toHaveURL(/[?&]status=COMPLETED\b/)
  await expect(page.locator(`tr[data-job-id="${completed}"]`)).toBeVisible()
  await expect(page.locator(`tr[data-job-id="${failed}"]`)).toHaveCount(0)

  // The URL is the view: opening it fresh shows the same filter.
  await page.goto(page.url())
  await expect(status).toHaveValue('COMPLETED')
  await expect(page.locator(`tr[data-job-id="${completed}"]`)).toBeVisible()

  await status.selectOption('')
  await expect(page).not.toHaveURL(/status=/)
  await expect(page.locator(`tr[data-job-id="${failed}"]`)).toBeVisible()
})

test('an idle poll of the home page is one request answered 304', async ({ page }) => {
  const seen: { url: string; status: number }[] = []
  page.on('response', (r) => {
    if (new URL(r.url()).pathname.startsWith('/api/')) seen.push({ url: r.url(), status: r.status() })
  })
  await page.goto('/')
  await expect(page.getByRole('heading', { name: 'Jobs', level: 1 })).toBeVisible()
  // Wait for two 304s in a row (the list stops changing once earlier specs' jobs are done).
  await expect
    .poll(
      () => {
        const last = seen.slice(-2)
        return last.length === 2 && last.every((r) => r.status === 304)
      },
      { timeout: 45_000 },
    )
    .toBe(true)
  const [a, b] = seen.slice(-2)
  // Each poll is the list's one conditional GET, nothing else in between.
  expect(new URL(a.url).pathname).toBe('/api/jobs')
  expect(b.url).toBe(a.url)
  // By now the earlier specs' jobs fill the list: the README's picture of it.
  await saveScreenshot(page, 'jobs')
})
