import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { QueryClient, QueryClientProvider } from '@tanstack/react-query'
import { RouterProvider } from '@tanstack/react-router'
import { ApiError } from './api/client'
import { AuthGate } from './auth/auth'
import { PollProvider } from './poll/poll'
import { router } from './router'
import './styles.css'

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      // Keep showing the last data while a poll is in flight or fails.
      placeholderData: (prev: unknown) => prev,
      // Once, but never for an answer that would only repeat: signed out,
      // forbidden, or told to wait (429).
      retry: (n, err) => n < 1 && !(err instanceof ApiError && [401, 403, 429].includes(err.status)),
      refetchOnWindowFocus: true,
    },
  },
})

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <PollProvider>
        <AuthGate>
          <RouterProvider router={router} />
        </AuthGate>
      </PollProvider>
    </QueryClientProvider>
  </StrictMode>,
)
