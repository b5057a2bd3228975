// A job submitted through the form goes COMPLETED on screen without a reload.
import { expect, test } from '@playwright/test'
import { screenshot } from './ops.helpers'

// The stack works asynchronously (dispatch, retries, dead letters): give each test room.
test.describe.configure({ timeout: 120_000 })

test('a job submitted through the form completes on screen without a reload', async ({ page }) => {
  await page.goto('/')
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Submit' }).click()
  await expect(page.getByRole('heading', { name: 'Submit a job' })).toBeVisible()

  // Build: LOG, COMPUTE, SLEEP 200 ms; then move the SLEEP up one and back.
  await page.getByLabel('Step 1 message').fill('submitted by the browser test')
  await page.getByLabel('Step 2 action').selectOption('COMPUTE')
  await page.getByLabel('Step 2 iterations (1–100,000,000)').fill('5000')
  await page.getByRole('button', { name: '+ Add step' }).click()
  await expect(page.getByLabel('Step 3 action')).toBeFocused()
  await page.getByLabel('Step 3 duration ms (0–300,000)').fill('200')
  await page.getByRole('button', { name: 'Move step 3 up' }).click()
  await expect(page.getByLabel('Step 2 action')).toHaveValue('SLEEP')
  await page.keyboard.press('Enter') // focus stays on the moved step's button: it moves again
  await expect(page.getByLabel('Step 1 action')).toHaveValue('SLEEP')
  await page.getByRole('button', { name: 'Move step 1 down' }).click()
  await expect(page.getByLabel('Step 2 action')).toHaveValue('SLEEP')
  await page.getByLabel('Max retries (0–20)').fill('1')

  const preview = JSON.parse((await page.getByTestId('json-preview').textContent()) ?? '{}')
  expect(preview).toEqual({
    jobType: 'SIMULATION',
    payload: {
      steps: [
        { action: 'LOG', message: 'submitted by the browser test' },
        { action: 'SLEEP', durationMs: 200 },
        { action: 'COMPUTE', iterations: 5000 },
      ],
    },
    maxRetryCount: 1,
  })
  await screenshot(page, 'submit')

  // A marker on the window survives client-side navigation only: a reload would drop it.
  await page.evaluate(() => ((window as unknown as { __sameDocument: boolean }).__sameDocument = true))
  await page.getByRole('button', { name: 'Submit job' }).click()
  await expect(page).toHaveURL(/\/jobs\/[0-9a-f-]{36}$/)
  const jobId = page.url().split('/').pop()!
  // The job page updates itself: COMPLETED shows up with no reload.
  await expect(page.getByRole('heading', { level: 1 })).toContainText('COMPLETED', { timeout: 60_000 })
  expect(page.url()).toContain(jobId)
  expect(await page.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument)).toBe(true)
})

test('the API validation errors show at the field they name', async ({ page }) => {
  await page.goto('/submit')
  const dur = page.getByLabel('Step 2 duration ms (0–300,000)')
  await dur.fill('400000')
  await page.getByRole('button', { name: 'Submit job' }).click()
  await expect(dur).toHaveAttribute('aria-invalid', 'true')
  await expect(page.locator(`#${await dur.getAttribute('id')}-error`)).toContainText('300000')
  await expect(page).toHaveURL(/\/submit$/)
})
