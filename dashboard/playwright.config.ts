// Browser tests: Playwright on the machine's own Chromium (Debian's
// `chromium`; no browser download), against a real local stack. `make test`
// runs them through the Go test dashboard/browsertest, which starts a private
// stack serving dashboard/dist and runs `npx playwright test` with
// JOBWEAVER_URL set to it. By hand, against `make run`:
//   cd dashboard && JOBWEAVER_URL=http://localhost:8080 npx playwright test
// e2e/outputs.spec.ts calls the stack's own /health from HTTP_CALL and WEBHOOK
// jobs, which the SSRF guard lets through only with
// WORKER_HTTP_ALLOWLIST=127.0.0.1/32 (the Go harness sets it; by hand, on make run).
// CHROMIUM_PATH names another Chromium; UPDATE_SCREENSHOTS=1 makes the specs
// that call e2e/screenshots.ts rewrite docs/screenshots/<view>.png.
//
// Two projects: "console" runs every spec but e2e/auth.spec.ts against
// JOBWEAVER_URL (a stack with API_AUTH=none); "auth" runs e2e/auth.spec.ts
// against JOBWEAVER_AUTH_URL, a stack with API_AUTH=keys whose admin key is
// JOBWEAVER_ADMIN_KEY. The Go harness starts both stacks and sets all three;
// by hand, the auth project runs only when JOBWEAVER_AUTH_URL is set:
//   API_ADMIN_KEY=$(go run ./localstack/newkey) API_AUTH=keys API_KEY_CACHE_TTL=100ms make run
//   cd dashboard && JOBWEAVER_AUTH_URL=http://localhost:8080 JOBWEAVER_ADMIN_KEY=$API_ADMIN_KEY npx playwright test --project auth
import { defineConfig, devices } from '@playwright/test'

const baseURL = process.env.JOBWEAVER_URL ?? 'http://localhost:8080'
const authURL = process.env.JOBWEAVER_AUTH_URL
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
  projects: [
    { name: 'console', testIgnore: /auth\.spec\.ts$/, use: { baseURL } },
    ...(authURL ? [{ name: 'auth', testMatch: /auth\.spec\.ts$/, use: { baseURL: authURL } }] : []),
  ],
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
