// How the jobs list pages through 10,000 jobs: it seeds the stack up to
// 10,000 jobs (batches of 1,000) and waits until the list has them, opens the list at 100 a page and goes
// Older page after page to the end, then Newer back, timing each step
// from the click to the new page on screen. It prints the median and p95;
// it asserts only what must hold (one page in the DOM, every page reached),
// never a time. Run: cd dashboard && JOBWEAVER_URL=http://localhost:8080 npm run perf
import { expect, test, type APIRequestContext } from '@playwright/test'

const TOTAL = 10_000
const PAGE = 100

async function seed(request: APIRequestContext): Promise<void> {
  const res = await request.get('/api/jobs?size=1')
  const have = ((await res.json()) as { totalElements: number }).totalElements
  for (let n = have; n < TOTAL; n += 1000) {
    const jobs = Array.from({ length: Math.min(1000, TOTAL - n) }, () => ({
      jobType: 'SIMULATION',
      maxRetryCount: 0,
      payload: { steps: [{ action: 'LOG', message: 'paging' }] },
    }))
    const r = await request.post('/api/jobs/batch', { data: { jobs } })
    expect(r.status(), await r.text()).toBe(202)
  }
  // The list is the scheduler's: wait until it has ingested them all.
  await expect
    .poll(async () => ((await (await request.get('/api/jobs?size=1')).json()) as { totalElements: number }).totalElements, {
      timeout: 120_000,
    })
    .toBeGreaterThanOrEqual(TOTAL)
}

function stats(ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b)
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]
  return `n=${s.length} median=${at(0.5).toFixed(0)} ms p95=${at(0.95).toFixed(0)} ms max=${s[s.length - 1].toFixed(0)} ms`
}

test('the jobs list pages through 10,000 jobs', async ({ page, request }) => {
  await seed(request)
  await page.goto(`/?size=${PAGE}`)
  const rows = page.locator('table tbody tr')
  await expect(rows).toHaveCount(PAGE)
  const first = async () => (await rows.first().getAttribute('data-job-id')) ?? (await rows.first().innerText())
  const step = async (name: RegExp): Promise<number | null> => {
    const button = page.getByRole('button', { name })
    if (await button.isDisabled()) return null
    const before = await first()
    const t0 = Date.now()
    await button.click()
    await expect.poll(first, { timeout: 30_000, intervals: [5] }).not.toBe(before)
    const dt = Date.now() - t0
    expect(await rows.count()).toBeLessThanOrEqual(PAGE)
    return dt
  }
  const older: number[] = []
  for (;;) {
    const dt = await step(/Older/)
    if (dt === null) break
    older.push(dt)
  }
  const newer: number[] = []
  for (let i = 0; i < 20; i++) {
    const dt = await step(/Newer/)
    if (dt === null) break
    newer.push(dt)
  }
  console.log(`paging ${TOTAL} jobs at ${PAGE} a page: Older ${stats(older)}; Newer ${stats(newer)}`)
  expect(older.length).toBeGreaterThanOrEqual(TOTAL / PAGE - 1)
})
