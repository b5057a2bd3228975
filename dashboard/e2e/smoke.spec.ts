// Smoke: the stack serves the built console at /, on the API's origin, and a
// deep link loads the app too (the SPA fallback CloudFront gives it in AWS).
import { expect, test } from '@playwright/test'
import { saveScreenshot } from './screenshots'

test('the home page loads with its title and navigation', async ({ page }) => {
  const errors: string[] = []
  page.on('pageerror', (e) => errors.push(e.message))
  const resp = await page.goto('/')
  expect(resp?.status()).toBe(200)
  await expect(page).toHaveTitle(/JobWeaver/)
  const nav = page.getByRole('navigation', { name: 'Main' })
  await expect(nav).toBeVisible()
  for (const label of ['Jobs', 'Submit', 'Dead letters', 'System']) {
    await expect(nav.getByRole('link', { name: label })).toBeVisible()
  }
  await saveScreenshot(page, 'jobs')
  expect(errors).toEqual([])
})

test('a deep link opens its view, and the API keeps its own JSON errors', async ({ page, request }) => {
  const resp = await page.goto('/system')
  expect(resp?.status()).toBe(200)
  await expect(page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'System' })).toHaveAttribute('aria-current', 'page')

  const api = await request.get('/api/jobs/0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b')
  expect(api.status()).toBe(404)
  expect(api.headers()['content-type']).toContain('application/json')
  expect((await api.json()).errorCode).toBe('API.JOB_NOT_FOUND')
})
