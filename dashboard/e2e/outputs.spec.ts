// Step outputs on the job page, against the stack: a DATA_PIPELINE submitted
// through the console (an HTTP_CALL of the stack's own /health, then a SCRIPT
// that reads its output) and a WEBHOOK delivered to the same /health. The
// stack lets the worker reach 127.0.0.1 (WORKER_HTTP_ALLOWLIST in
// browsertest); by hand: WORKER_HTTP_ALLOWLIST=127.0.0.1/32 make run.
import { expect, test } from '@playwright/test'
import { screenshot, uniqueTrace } from './ops.helpers'

test.describe.configure({ timeout: 90_000 })

const SCRIPT = 'h = outputs["health"]\nresult = {"http": h["status"], "health": h["body"]["status"]}'

test("a DATA_PIPELINE job submitted through the console shows its SCRIPT's output", async ({ page, baseURL }) => {
  const pipeline = {
    steps: [
      { id: 'health', action: 'HTTP_CALL', url: new URL('/health', baseURL).href },
      { id: 'summary', action: 'SCRIPT', source: SCRIPT },
    ],
  }
  await page.goto('/submit')
  await page.getByLabel('Job type').selectOption('DATA_PIPELINE')
  const payload = page.getByLabel('DATA_PIPELINE payload (JSON)')
  await expect(payload).toHaveValue(/"action": "SCRIPT"/) // the example
  await page.getByLabel('Max retries (0–20)').fill('0')

  // A script that does not parse: the API's 400 names the step's source and the line, under the payload.
  const broken = { steps: [pipeline.steps[0], { ...pipeline.steps[1], source: 'h = outputs["health"]\nresult = (' }] }
  await payload.fill(JSON.stringify(broken, null, 2))
  await page.getByRole('button', { name: 'Submit job' }).click()
  await expect(payload).toHaveAttribute('aria-invalid', 'true')
  await expect(page.locator('#payload-error')).toContainText(/payload\.steps\[1\]\.source: .*line 2/)
  await expect(page).toHaveURL(/\/submit$/)

  await payload.fill(JSON.stringify(pipeline, null, 2))
  await page.getByRole('button', { name: 'Submit job' }).click()
  await expect(page).toHaveURL(/\/jobs\/[0-9a-f-]{36}$/)
  await expect(page.getByRole('heading', { level: 1 })).toContainText('COMPLETED', { timeout: 60_000 })

  const steps = page.getByRole('table', { name: 'Steps of attempt 1' })
  const out = steps.getByLabel('Output of step 1 (summary), attempt 1', { exact: true })
  await expect(out).toBeVisible()
  expect(JSON.parse((await out.textContent()) ?? '')).toEqual({ http: 200, health: 'UP' })
  // The HTTP_CALL's own output: {status, headers, body, bodyBytes}, the body parsed.
  const call = JSON.parse((await steps.getByLabel('Output of step 0 (health), attempt 1', { exact: true }).textContent()) ?? '')
  expect(call).toMatchObject({ status: 200, body: { status: 'UP' } })
  // The payload: ids and the script as code.
  await expect(page.getByLabel('Script source of step 1', { exact: true })).toHaveText(SCRIPT)
  await screenshot(page, 'job-outputs')
})

test("a WEBHOOK job's page shows its delivery and the response it recorded", async ({ page, request, baseURL }) => {
  const url = new URL('/health', baseURL).href
  const res = await request.post('/api/jobs', {
    data: { jobType: 'WEBHOOK', maxRetryCount: 0, payload: { url, method: 'GET', expectStatus: [200] } },
    headers: { 'X-Trace-Id': uniqueTrace('webhook') },
  })
  expect(res.status(), await res.text()).toBe(202)
  const { jobId } = (await res.json()) as { jobId: string }
  await page.goto(`/jobs/${jobId}`)
  await expect(page.getByRole('heading', { level: 1 })).toContainText('COMPLETED', { timeout: 60_000 })
  const delivery = page.getByRole('definition').filter({ hasText: url })
  await expect(delivery).toBeVisible()
  await expect(page.getByText('none: sent unsigned')).toBeVisible()
  await expect(page.getByText('The payload has no steps.')).toHaveCount(0)
  const out = page.getByLabel('Output of step 0, attempt 1', { exact: true })
  await expect(out).toBeVisible()
  const recorded = JSON.parse((await out.textContent()) ?? '') as { status: number; bytes: number; headers: Record<string, unknown> }
  expect(recorded.status).toBe(200)
  expect(recorded.bytes).toBeGreaterThan(0)
})

test('a job WAITING at WAIT_FOR_CALLBACK shows its callback URL; a POST to it resumes the job', async ({ page, request, playwright }) => {
  const res = await request.post('/api/jobs', {
    data: {
      jobType: 'DATA_PIPELINE',
      maxRetryCount: 0,
      payload: {
        steps: [
          { id: 'approval', action: 'WAIT_FOR_CALLBACK', timeoutMs: 600000 },
          { id: 'decide', action: 'SCRIPT', source: 'result = "pay" if outputs["approval"]["approved"] else "drop"' },
        ],
      },
    },
    headers: { 'X-Trace-Id': uniqueTrace('callback') },
  })
  expect(res.status(), await res.text()).toBe(202)
  const { jobId } = (await res.json()) as { jobId: string }
  await page.goto(`/jobs/${jobId}`)
  await expect(page.getByRole('heading', { level: 1 })).toContainText('WAITING', { timeout: 60_000 })
  const url = page.getByTestId('callback-url')
  await expect(url).toHaveText(new RegExp(`/api/jobs/${jobId}/callbacks/[A-Za-z0-9_-]{32}$`))
  await expect(page.getByTestId('callback-note')).toContainText('step 0 (approval)')
  // The approver has no credential: a fresh request context.
  const approver = await playwright.request.newContext()
  const answer = await approver.post((await url.textContent()) ?? '', { data: { approved: true, by: 'ann' } })
  expect(answer.status(), await answer.text()).toBe(202)
  await expect(page.getByRole('heading', { level: 1 })).toContainText('COMPLETED', { timeout: 60_000 })
  await expect(page.getByTestId('callback-note')).toHaveCount(0)
  const out = page.getByLabel('Output of step 1 (decide), attempt 2', { exact: true })
  await expect(out).toBeVisible()
  expect(JSON.parse((await out.textContent()) ?? '')).toBe('pay')
  await approver.dispose()
})
