// The README's screenshots: with UPDATE_SCREENSHOTS=1, a spec's call to
// saveScreenshot writes docs/screenshots/<view>.png (at the repository's root)
// from the page as it is; without it, the call does nothing.
//   cd dashboard && UPDATE_SCREENSHOTS=1 JOBWEAVER_URL=http://localhost:8080 npx playwright test
// or, through the Go harness on a private stack:
//   UPDATE_SCREENSHOTS=1 go test -count=1 -v ./dashboard/browsertest
import type { Page } from '@playwright/test'
import { mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const updateScreenshots = process.env.UPDATE_SCREENSHOTS === '1'

const screenshotDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'docs', 'screenshots')

/** Saves docs/screenshots/<view>.png when UPDATE_SCREENSHOTS=1. */
export async function saveScreenshot(page: Page, view: string): Promise<void> {
  if (!updateScreenshots) return
  if (!/^[a-z0-9-]+$/.test(view)) throw new Error(`screenshot name ${view}: use lowercase letters, digits and dashes`)
  mkdirSync(screenshotDir, { recursive: true })
  await page.screenshot({ path: join(screenshotDir, `${view}.png`), fullPage: true, animations: 'disabled' })
}
