// The health page shows lag and throughput.
import { expect, test } from '@playwright/test'
import { screenshot, submitJob, uniqueTrace } from './ops.helpers'

// The stack works asynchronously (dispatch, retries, dead letters): give each test room.
test.describe.configure({ timeout: 120_000 })

test('the health page shows lag and throughput', async ({ page, request }) => {
  // Something to count in this minute's bucket.
  await submitJob(request, { payload: { steps: [{ action: 'LOG', message: 'for the throughput chart' }] } }, uniqueTrace('e2e-system'))

  await page.goto('/')
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'System' }).click()
  await expect(page.getByRole('heading', { name: 'System health' })).toBeVisible()

  const lag = page.getByRole('table', { name: 'Consumer lag' })
  await expect(lag).toBeVisible({ timeout: 30_000 })
  expect(await lag.locator('tbody tr').count()).toBeGreaterThan(0)
  await expect(lag.locator('tbody tr').first().locator('td').last()).toHaveText(/^\d+$/)

  const throughput = page.getByRole('region', { name: 'Throughput (jobs per minute, last hour)' })
  await expect(throughput.locator('canvas')).toBeVisible()
  await expect(throughput.getByText(/\d+ completed and \d+ failed in the last 60 minutes/)).toBeVisible()
  // The job above completes within the hour shown.
  await expect(throughput.getByText(/[1-9]\d* completed and \d+ failed/)).toBeVisible({ timeout: 60_000 })

  for (const name of ['api', 'scheduler', 'worker', 'dlq']) {
    await expect(page.getByRole('region', { name: 'Functions' }).getByText(name, { exact: true })).toBeVisible()
  }
  await expect(page.getByRole('link', { name: 'Inspect the NEW entries' })).toHaveAttribute('href', '/dlq?status=NEW')
  await screenshot(page, 'system')
})
