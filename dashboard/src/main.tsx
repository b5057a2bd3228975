import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { QueryClient, QueryClientProvider } from '@tanstack/react-query'
import { RouterProvider } from '@tanstack/react-router'
import { PollProvider } from './poll/poll'
import { router } from './router'
import './styles.css'

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      // Keep showing the last data while a poll is in flight or fails.
      placeholderData: (prev: unknown) => prev,
      retry: 1,
      refetchOnWindowFocus: true,
    },
  },
})

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <PollProvider>
        <RouterProvider router={router} />
      </PollProvider>
    </QueryClientProvider>
  </StrictMode>,
)
