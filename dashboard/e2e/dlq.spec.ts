// The dead-letter inspector end to end: a retry from the UI completes the job,
// and a bulk dismiss by filter shows its progress to the end.
import { expect, test } from '@playwright/test'
import { deadLettersFor, entryId, screenshot, submitJob, uniqueTrace } from './ops.helpers'

// The stack works asynchronously (dispatch, retries, dead letters): give each test room.
test.describe.configure({ timeout: 180_000 })

test('a DLQ retry from the UI completes the job', async ({ page, request }) => {
  const trace = uniqueTrace('e2e-dlq-retry')
  // Fails its first attempt only; with no retries it dead-letters at once, and a manual retry (attempt 2) succeeds.
  const jobId = await submitJob(request, { maxRetryCount: 0, payload: { steps: [{ action: 'FAIL', message: 'first time only', failTimes: 1 }] } }, trace)
  const [dl] = await deadLettersFor(request, trace, [jobId])
  const id = entryId(dl)

  await page.goto(`/dlq?traceId=${trace}`)
  await expect(page).toHaveURL(new RegExp(`traceId=${trace}`))
  await page.getByRole('link', { name: `Open entry …${id.slice(-12)}` }).click()
  await expect(page).toHaveURL(new RegExp(`/dlq/${id}$`))
  await expect(page.getByText('first time only').first()).toBeVisible()
  await screenshot(page, 'dlq-entry')

  await page.getByRole('button', { name: 'Retry', exact: true }).click()
  await page.getByRole('button', { name: 'Retry the job' }).click()
  await expect(page.getByText('Retried: the job is queued to run again.')).toBeVisible()
  // The entry turns RETRIED, and the job behind it runs to COMPLETED, live.
  await expect(page.getByRole('heading', { level: 1 })).toContainText('RETRIED', { timeout: 30_000 })
  const jobFacts = page.locator('dd').filter({ hasText: 'now' })
  await expect(jobFacts).toContainText('COMPLETED', { timeout: 60_000 })
  await expect(page.getByRole('button', { name: 'Retry', exact: true })).toBeDisabled()

  // A second retry is refused by the API (409), and the entry says so.
  const again = await request.post(`/api/dlq/${id}/retry`)
  expect(again.status()).toBe(409)

  await page.getByRole('link', { name: jobId }).click()
  await expect(page).toHaveURL(new RegExp(`/jobs/${jobId}$`))
  await expect(page.getByRole('heading', { level: 1 })).toContainText('COMPLETED', { timeout: 30_000 })
})

test('a bulk dismiss by filter shows its progress to the end', async ({ page, request }) => {
  const trace = uniqueTrace('e2e-dlq-bulk')
  const jobs: string[] = []
  for (let i = 0; i < 3; i++) {
    jobs.push(await submitJob(request, { maxRetryCount: 0, payload: { steps: [{ action: 'FAIL', message: `bulk ${i}` }] } }, trace))
  }
  await deadLettersFor(request, trace, jobs)

  await page.goto('/dlq')
  await page.getByLabel('Trace ID').fill(trace)
  await page.getByLabel('Status').selectOption('NEW')
  await page.getByRole('button', { name: 'Apply' }).click()
  await expect(page).toHaveURL(/status=NEW/)
  await expect(page).toHaveURL(new RegExp(`traceId=${trace}`))
  const rows = page.locator('table.dlq-table tbody tr')
  await expect(rows).toHaveCount(3)
  await screenshot(page, 'dlq')

  await page.getByRole('button', { name: /^Select all 3 that match this filter$/ }).click()
  await expect(page.getByText('All 3 entries that match this filter are selected.')).toBeVisible()
  await page.getByRole('button', { name: 'Dismiss selected' }).click()
  await expect(page.getByRole('alertdialog')).toContainText(`traceId ${trace}`)
  await page.getByRole('button', { name: 'Dismiss all matching' }).click()

  const bar = page.getByRole('progressbar', { name: 'Dismiss progress' })
  await expect(bar).toBeVisible()
  await expect(bar).toHaveAttribute('aria-valuemax', '3')
  await expect(page.getByLabel('Dismiss progress').getByText('COMPLETED', { exact: true })).toBeVisible({ timeout: 60_000 })
  await expect(bar).toHaveAttribute('aria-valuenow', '3')
  await expect(page.getByText(/3 done, 0 failed of 3 \(100%\)/)).toBeVisible()
  // The list (filtered on NEW) empties once they are dismissed.
  await expect(page.getByText('No dead letters match this filter.')).toBeVisible({ timeout: 30_000 })
  await page.getByLabel('Status').selectOption('DISMISSED')
  await expect(rows).toHaveCount(3)
})
