// The job views' reads and writes over the public API, as TanStack Query hooks.
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { ApiError, apiGet, apiSend } from '../../api/client'
import type { Execution, Job, JobHistory, JobSummary, Page } from '../../api/types'
import { usePollInterval } from '../../poll/poll'
import { TERMINAL } from './format'
import { listParams, type JobsSearch } from './search'

export const jobKeys = {
  list: (s: JobsSearch) => ['jobs', 'list', listParams(s)] as const,
  job: (id: string) => ['jobs', 'job', id] as const,
  executions: (id: string) => ['jobs', 'job', id, 'executions'] as const,
  history: (id: string) => ['jobs', 'job', id, 'history'] as const,
}

export function fetchJobs(s: JobsSearch, signal?: AbortSignal) {
  return apiGet<Page<JobSummary>>('/api/jobs', listParams(s), signal)
}

/** A page of the list, refreshed on the poll interval; the last page stays on screen while the next loads. */
export function useJobs(s: JobsSearch) {
  const interval = usePollInterval()
  return useQuery({
    queryKey: jobKeys.list(s),
    queryFn: ({ signal }) => fetchJobs(s, signal),
    refetchInterval: interval,
    placeholderData: keepPreviousData,
  })
}

/** One job, live: it keeps polling after a terminal state too (a FAILED job can be retried from the DLQ); an idle poll is a 304. */
export function useJob(id: string) {
  const interval = usePollInterval()
  return useQuery({
    queryKey: jobKeys.job(id),
    queryFn: ({ signal }) => apiGet<Job>(`/api/jobs/${encodeURIComponent(id)}`, undefined, signal),
    refetchInterval: (q) => (q.state.error instanceof ApiError && q.state.error.status === 404 ? false : interval),
    placeholderData: undefined,
    retry: (n, err) => !(err instanceof ApiError && err.status < 500) && n < 1,
  })
}

/** Executions poll until the job is terminal and every attempt it counts has one. */
export function useExecutions(id: string, job: Job | undefined) {
  const interval = usePollInterval()
  return useQuery({
    queryKey: jobKeys.executions(id),
    queryFn: ({ signal }) => apiGet<Page<Execution>>(`/api/jobs/${encodeURIComponent(id)}/executions`, { size: 100 }, signal),
    enabled: job !== undefined,
    placeholderData: undefined,
    refetchInterval: (q) => {
      if (!job || !TERMINAL.has(job.status)) return interval
      const n = q.state.data?.content.length ?? 0
      return job.status === 'CANCELLED' || n >= job.attempts ? false : interval
    },
  })
}

/**
 * GET /api/jobs/{id}/history. A 404 other than API.JOB_NOT_FOUND means the route is
 * not there (an older backend): the page then derives the life from the job and its
 * executions, and stops asking.
 */
export function useHistory(id: string, job: Job | undefined) {
  const interval = usePollInterval()
  return useQuery({
    queryKey: jobKeys.history(id),
    queryFn: ({ signal }) => apiGet<JobHistory>(`/api/jobs/${encodeURIComponent(id)}/history`, undefined, signal),
    enabled: job !== undefined,
    placeholderData: undefined,
    retry: (n, err) => !(err instanceof ApiError && err.status < 500) && n < 1,
    refetchInterval: (q) => {
      if (historyUnavailable(q.state.error)) return false
      if (!job || !TERMINAL.has(job.status)) return interval
      const events = q.state.data?.events ?? []
      return events.some((e) => e.type === job.status) ? false : interval
    },
  })
}

export function historyUnavailable(err: unknown): boolean {
  return err instanceof ApiError && (err.status === 404 || err.status === 405 || err.status === 501) && err.code !== 'API.JOB_NOT_FOUND'
}

export function useCancelJob(id: string) {
  const qc = useQueryClient()
  return useMutation({
    mutationFn: () => apiSend<Job>('DELETE', `/api/jobs/${encodeURIComponent(id)}`),
    onSuccess: (job) => {
      if (job && typeof job === 'object' && 'jobId' in job) qc.setQueryData(jobKeys.job(id), job)
    },
    onSettled: () => qc.invalidateQueries({ queryKey: ['jobs'] }),
  })
}
