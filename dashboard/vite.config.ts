/// <reference types="vitest/config" />
import { defineConfig } from 'vite'
import react from '@vitejs/plugin-react'

// The console is served by the API's own origin (make run: http://localhost:8080/;
// AWS: CloudFront, with /api/* going to API Gateway). `npm run dev` proxies the API
// to a running `make run` stack.
export default defineConfig({
  plugins: [react()],
  server: {
    proxy: {
      '/api': process.env.JOBWEAVER_URL ?? 'http://127.0.0.1:8080',
      '/health': process.env.JOBWEAVER_URL ?? 'http://127.0.0.1:8080',
    },
  },
  build: {
    outDir: 'dist',
    sourcemap: false,
    chunkSizeWarningLimit: 400,
  },
  test: {
    environment: 'jsdom',
    setupFiles: ['./src/test/setup.ts'],
    include: ['src/**/*.test.{ts,tsx}'],
    css: false,
    globals: true,
  },
})
