// Signing in to the console on a stack with API_AUTH=keys (project "auth" in
// playwright.config.ts): a bad key is refused with the API's reason, a viewer
// sees no action, an operator retries a dead letter and cancels a job, an admin
// makes a key and sees it once, and a key revoked while signed in sends the
// console back to sign-in. Keys are made through the API with the stack's admin
// key (JOBWEAVER_ADMIN_KEY); the page itself only ever has what it signed in with.
import { expect, request as playwrightRequest, test, type APIRequestContext, type Page } from '@playwright/test'
import { deadLettersFor, entryId, submitJob, uniqueTrace } from './ops.helpers'
import { saveScreenshot } from './screenshots'

test.describe.configure({ timeout: 180_000 })

const adminKey = process.env.JOBWEAVER_ADMIN_KEY ?? ''
let admin: APIRequestContext

test.beforeAll(async ({ baseURL }) => {
  expect(adminKey, 'JOBWEAVER_ADMIN_KEY: the admin key of the stack at JOBWEAVER_AUTH_URL').toMatch(/^jw_/)
  admin = await playwrightRequest.newContext({ baseURL, extraHTTPHeaders: { Authorization: `Bearer ${adminKey}` } })
})

test.afterAll(async () => {
  await admin.dispose()
})

async function newKey(role: 'viewer' | 'operator' | 'admin', name: string): Promise<{ id: string; key: string }> {
  const res = await admin.post('/api/keys', { data: { name, role } })
  expect(res.status(), await res.text()).toBe(201)
  return (await res.json()) as { id: string; key: string }
}

async function signIn(page: Page, key: string, path = '/') {
  await page.goto(path)
  await expect(page.getByRole('heading', { name: 'Sign in to JobWeaver' })).toBeVisible()
  await page.getByLabel('API key or token').fill(key)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible()
}

/** A job that fails its first attempt only, dead-lettered at once (no retries): returns its entry's ID. */
async function deadLetter(prefix: string): Promise<{ id: string; jobId: string; trace: string }> {
  const trace = uniqueTrace(prefix)
  const jobId = await submitJob(admin, { maxRetryCount: 0, payload: { steps: [{ action: 'FAIL', message: 'first time only', failTimes: 1 }] } }, trace)
  const [dl] = await deadLettersFor(admin, trace, [jobId])
  return { id: entryId(dl), jobId, trace }
}

test('a bad key is refused with the API’s reason, and the page stays on sign-in', async ({ page }) => {
  await page.goto('/')
  await expect(page.getByRole('heading', { name: 'Sign in to JobWeaver' })).toBeVisible()
  await saveScreenshot(page, 'sign-in')
  await page.getByLabel('API key or token').fill('jw_not-a-key')
  await page.getByRole('button', { name: 'Sign in' }).click()
  await expect(page.getByRole('alert')).toContainText('the API key is malformed or its checksum is wrong (API.UNAUTHENTICATED)')
  await expect(page.getByRole('heading', { name: 'Sign in to JobWeaver' })).toBeVisible()
  expect(await page.evaluate(() => sessionStorage.getItem('jobweaver.credential'))).toBeNull()
})

test('a viewer sees the dead letters and jobs but no action', async ({ page }) => {
  const { id, jobId, trace } = await deadLetter('e2e-auth-viewer')
  const viewer = await newKey('viewer', 'wall screen')
  await signIn(page, viewer.key, `/dlq?traceId=${trace}`)
  const header = page.getByRole('banner')
  await expect(header).toContainText('wall screen')
  await expect(header).toContainText('(viewer)')
  const nav = page.getByRole('navigation', { name: 'Main' })
  await expect(nav.getByRole('link', { name: 'Dead letters' })).toBeVisible()
  await expect(nav.getByRole('link', { name: 'Submit' })).toHaveCount(0)
  await expect(nav.getByRole('link', { name: 'API keys' })).toHaveCount(0)

  await expect(page.getByRole('link', { name: `Open entry …${id.slice(-12)}` })).toBeVisible()
  await expect(page.getByRole('button', { name: 'Retry selected' })).toHaveCount(0)
  await expect(page.getByRole('button', { name: 'Dismiss selected' })).toHaveCount(0)
  await expect(page.getByRole('checkbox')).toHaveCount(0)

  await page.getByRole('link', { name: `Open entry …${id.slice(-12)}` }).click()
  await expect(page.getByText('first time only').first()).toBeVisible()
  await expect(page.getByRole('button', { name: 'Retry', exact: true })).toHaveCount(0)
  await expect(page.getByRole('button', { name: 'Dismiss', exact: true })).toHaveCount(0)

  await page.goto(`/jobs/${jobId}`)
  await expect(page.getByTestId('job-id')).toHaveText(jobId)
  await expect(page.getByRole('button', { name: /Cancel job/ })).toHaveCount(0)
  await page.goto('/submit')
  await expect(page.getByText(/you need the operator role or higher; you are signed in as viewer/)).toBeVisible()
})

test('an operator retries a dead letter and cancels a job', async ({ page }) => {
  const { id, jobId } = await deadLetter('e2e-auth-operator')
  const operator = await newKey('operator', 'on call')
  await signIn(page, operator.key, `/dlq/${id}`)
  await expect(page.getByRole('banner')).toContainText('(operator)')
  await page.getByRole('button', { name: 'Retry', exact: true }).click()
  await page.getByRole('button', { name: 'Retry the job' }).click()
  await expect(page.getByText('Retried: the job is queued to run again.')).toBeVisible()
  await expect(page.getByRole('heading', { level: 1 })).toContainText('RETRIED', { timeout: 30_000 })
  // The API recorded who: the entry's resolvedBy is the operator's key ID.
  const entry = await (await admin.get(`/api/dlq/${id}`)).json()
  expect(JSON.stringify(entry)).toContain(operator.id)
  await page.goto(`/jobs/${jobId}`)
  await expect(page.getByRole('heading', { level: 1 })).toContainText('COMPLETED', { timeout: 60_000 })

  const sleeper = await submitJob(admin, { maxRetryCount: 0, payload: { steps: [{ action: 'SLEEP', durationMs: 120_000 }] } })
  await page.goto(`/jobs/${sleeper}`)
  await page.getByRole('button', { name: /Cancel job/ }).click()
  await page.getByRole('button', { name: 'Yes, cancel it' }).click()
  await expect(page.getByRole('heading', { level: 1 })).toContainText('CANCELLED', { timeout: 30_000 })
})

test('an admin makes a key in the console and sees it once', async ({ page }) => {
  const second = await newKey('admin', 'second admin')
  await signIn(page, second.key, '/keys')
  await expect(page.getByRole('heading', { name: 'API keys' })).toBeVisible()
  await page.getByLabel('Name').fill('e2e reader')
  await page.getByLabel('Role').selectOption('viewer')
  await page.getByRole('button', { name: 'Create key' }).click()
  const shown = page.getByTestId('new-key')
  await expect(shown).toHaveText(/^jw_[0-9A-Za-z]{49}$/)
  await expect(page.getByRole('button', { name: 'Copy API key' })).toBeVisible()
  await expect(page.getByRole('row', { name: /e2e reader/ })).toBeVisible()
  await saveScreenshot(page, 'keys')
  const made = (await shown.textContent()) ?? ''
  // The key works, as a viewer's.
  const who = await playwrightRequest.newContext({ baseURL: test.info().project.use.baseURL, extraHTTPHeaders: { Authorization: `Bearer ${made}` } })
  const me = await (await who.get('/api/whoami')).json()
  await who.dispose()
  expect(me).toMatchObject({ role: 'viewer', name: 'e2e reader', auth: 'keys' })
  await page.getByRole('button', { name: 'Done' }).click()
  await expect(shown).toHaveCount(0)

  // Revoked from the console: the key is refused, and the audit has both actions.
  await page.getByRole('button', { name: 'Revoke e2e reader' }).click()
  await page.getByRole('button', { name: 'Revoke the key' }).click()
  await expect(page.getByRole('row', { name: /e2e reader/ })).toContainText('revoked')
  const after = await playwrightRequest.newContext({ baseURL: test.info().project.use.baseURL, extraHTTPHeaders: { Authorization: `Bearer ${made}` } })
  const refused = await after.get('/api/whoami')
  await after.dispose()
  expect(refused.status()).toBe(401)

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit' }).click()
  await page.getByLabel('Caller').fill(second.id)
  await page.getByRole('button', { name: 'Apply' }).click()
  await expect(page).toHaveURL(new RegExp(`caller=${second.id}`))
  const rows = page.locator('table.audit-table tbody tr')
  await expect(rows).toHaveCount(2)
  await expect(rows.nth(0)).toContainText('key.revoke')
  await expect(rows.nth(1)).toContainText('key.create')
  await expect(rows.nth(1)).toContainText('e2e reader')
})

test('a key revoked while signed in sends the console back to sign-in, saying why', async ({ page }) => {
  const operator = await newKey('operator', 'to be revoked')
  await signIn(page, operator.key, '/')
  await expect(page.getByRole('banner')).toContainText('to be revoked')
  const res = await admin.delete(`/api/keys/${operator.id}`)
  expect(res.status()).toBe(200)
  // The next poll (every 2 s) is refused once the stack's key cache (100 ms here) forgets the key.
  await expect(page.getByRole('heading', { name: 'Sign in to JobWeaver' })).toBeVisible({ timeout: 30_000 })
  await expect(page.getByRole('alert')).toContainText('You were signed out: the API key is revoked (API.UNAUTHENTICATED)')
  expect(await page.evaluate(() => sessionStorage.getItem('jobweaver.credential'))).toBeNull()
})
