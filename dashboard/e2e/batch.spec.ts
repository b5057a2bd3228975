// A BATCH_PROCESS job on the job page, against the stack: 250 items whose
// SCRIPT fails for every 100th, with maxFailedItems 3 so the job completes;
// the counts, the items table paged by cursor, the failed-items filter.
import { expect, test } from '@playwright/test'
import { uniqueTrace } from './ops.helpers'

test.describe.configure({ timeout: 90_000 })

const SOURCE = 'if index % 100 == 7:\n    fail("item %d refused" % index)\nresult = {"id": item["id"], "double": item["id"] * 2}'

test("a BATCH_PROCESS job's page shows its counts and pages its items", async ({ page, request }) => {
  const res = await request.post('/api/jobs', {
    data: {
      jobType: 'BATCH_PROCESS',
      maxRetryCount: 0,
      payload: {
        items: Array.from({ length: 250 }, (_, i) => ({ id: i })),
        chunkSize: 40,
        maxFailedItems: 3,
        step: { action: 'SCRIPT', source: SOURCE },
      },
    },
    headers: { 'X-Trace-Id': uniqueTrace('batch') },
  })
  expect(res.status(), await res.text()).toBe(202)
  const { jobId } = (await res.json()) as { jobId: string }
  await page.goto(`/jobs/${jobId}`)
  await expect(page.getByRole('heading', { level: 1 })).toContainText('COMPLETED', { timeout: 60_000 })

  const counts = page.getByTestId('batch-counts')
  await expect(counts).toContainText('Items250')
  await expect(counts).toContainText('Succeeded247')
  await expect(counts).toContainText('Failed3 (at most 3 allowed)')
  await expect(page.getByTestId('batch-first-error')).toContainText('First failed item: #7')

  const table = page.getByRole('table', { name: 'Batch items' })
  await expect(table.locator('[data-item]')).toHaveCount(50)
  await expect(page.getByText('1–50 of 250 finished')).toBeVisible()
  await expect(table.locator('[data-item="7"]')).toContainText('item 7 refused')
  await table.locator('[data-item="3"]').getByText('Output').click()
  await expect(table.getByLabel('Output of item 3', { exact: true })).toContainText('"double": 6')

  await page.getByRole('button', { name: 'Next →' }).click()
  await expect(page.getByText('51–100 of 250 finished')).toBeVisible()
  await expect(table.locator('[data-item="50"]')).toBeVisible()

  await page.getByLabel('Item status').selectOption('FAILED')
  await expect(page.getByText('1–3 of 3 failed')).toBeVisible()
  await expect(table.locator('[data-item]')).toHaveCount(3)
  await expect(table.locator('[data-item="207"]')).toContainText('WORKER.SCRIPT_FAILED')
})
