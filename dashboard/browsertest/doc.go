// Package browsertest runs the dashboard's Playwright specs
// (dashboard/e2e/*.spec.ts) in a real browser against a real local stack:
// its test starts a private stack (shared/stacktest: its own databases,
// broker and free ports) that serves the built dashboard (dashboard/dist)
// on the API's origin, as `make run` does, and runs `npx playwright test`
// in dashboard/ with JOBWEAVER_URL set to the stack's URL, streaming
// Playwright's output.
//
// The browser is the machine's Chromium (Debian's chromium package, at
// CHROMIUM_PATH or /usr/bin/chromium): Playwright downloads none. A missing
// Chromium, Node, Playwright or dashboard build fails the test, saying how
// to get it; `make test` builds the dashboard and installs its packages
// first. PLAYWRIGHT_ARGS passes more arguments to playwright test (a spec
// file, --grep ...); UPDATE_SCREENSHOTS=1 makes the specs rewrite
// docs/screenshots/<view>.png.
//
// It holds no code outside its test.
package browsertest
