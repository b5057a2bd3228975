// Browser tests: Playwright on the machine's own Chromium (Debian's
// `chromium`; no browser download), against a real local stack. `make test`
// runs them through the Go test dashboard/browsertest, which starts a private
// stack serving dashboard/dist and runs `npx playwright test` with
// JOBWEAVER_URL set to it. By hand, against `make run`:
//   cd dashboard && JOBWEAVER_URL=http://localhost:8080 npx playwright test
// CHROMIUM_PATH names another Chromium; UPDATE_SCREENSHOTS=1 makes the specs
// that call e2e/screenshots.ts rewrite docs/screenshots/<view>.png.
import { defineConfig, devices } from '@playwright/test'

const baseURL = process.env.JOBWEAVER_URL ?? 'http://localhost:8080'
const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium'

export default defineConfig({
  testDir: './e2e',
  outputDir: './test-results',
  // One stack, one browser: specs share the stack's data, so they run one at a time.
  workers: 1,
  fullyParallel: false,
  retries: 0,
  forbidOnly: true,
  timeout: 60_000,
  expect: { timeout: 15_000 },
  reporter: [['list']],
  use: {
    baseURL,
    browserName: 'chromium',
    launchOptions: {
      executablePath,
      // Root in a container has no sandbox to drop into.
      args: ['--no-sandbox', '--disable-dev-shm-usage'],
    },
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
    viewport: { width: 1280, height: 800 },
  },
})
