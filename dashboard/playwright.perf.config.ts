// Measurements, not tests: `npm run perf` against a running stack
// (JOBWEAVER_URL, default http://localhost:8080). See docs/performance.md.
import { defineConfig } from '@playwright/test'
import base from './playwright.config'

export default defineConfig({
  ...base,
  testDir: './perf',
  outputDir: './test-results/perf',
  timeout: 600_000,
})
