// The step builder's model: each step as the form holds it (strings, as the
// inputs give them), the API's limits per field, and the submission it makes.
import type { JobSubmission, Step } from '../../api/types'

export type Action = Step['action']
export const ACTIONS: Action[] = ['SLEEP', 'LOG', 'COMPUTE', 'HTTP_CALL', 'FAIL']
export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE'] as const

/** The API's limits (docs/openapi.yaml). */
export const LIMITS = {
  steps: { min: 1, max: 100 },
  maxRetryCount: { min: 0, max: 20, default: 3 },
  durationMs: { min: 0, max: 300_000 },
  message: { max: 4096 },
  iterations: { min: 1, max: 100_000_000 },
  url: { max: 2048 },
  timeoutMs: { min: 1, max: 30_000 },
  latencyMs: { min: 0, max: 60_000 },
  failTimes: { min: 0, max: 20 },
} as const

export interface StepDraft {
  key: number
  action: Action
  durationMs: string
  message: string
  iterations: string
  url: string
  method: string
  timeoutMs: string
  latencyMs: string
  failTimes: string
}

let nextKey = 1

export function newStep(action: Action = 'SLEEP'): StepDraft {
  return {
    key: nextKey++,
    action,
    durationMs: '1000',
    message: action === 'LOG' ? 'hello' : '',
    iterations: '1000',
    url: '',
    method: '',
    timeoutMs: '',
    latencyMs: '200',
    failTimes: '',
  }
}

/** A number field: an integer when it reads as one, else the text as typed (the API says what is wrong). */
function num(v: string): number | string {
  const t = v.trim()
  if (/^-?\d+$/.test(t)) return Number(t)
  return t
}

export function toStep(d: StepDraft): Step {
  switch (d.action) {
    case 'SLEEP':
      return { action: 'SLEEP', durationMs: num(d.durationMs) as number }
    case 'LOG':
      return { action: 'LOG', message: d.message }
    case 'COMPUTE':
      return { action: 'COMPUTE', iterations: num(d.iterations) as number }
    case 'HTTP_CALL': {
      const s: Step & { action: 'HTTP_CALL' } = { action: 'HTTP_CALL' }
      if (d.url.trim()) {
        s.url = d.url.trim()
        if (d.method) s.method = d.method
        if (d.timeoutMs.trim()) s.timeoutMs = num(d.timeoutMs) as number
      }
      if (d.latencyMs.trim()) s.latencyMs = num(d.latencyMs) as number
      return s
    }
    case 'FAIL': {
      const s: Step & { action: 'FAIL' } = { action: 'FAIL' }
      if (d.message) s.message = d.message
      if (d.failTimes.trim()) s.failTimes = num(d.failTimes) as number
      return s
    }
  }
}

export function toSubmission(jobType: string, steps: StepDraft[], maxRetryCount: string): JobSubmission {
  const sub: JobSubmission = { jobType, payload: { steps: steps.map(toStep) } }
  if (maxRetryCount.trim() !== '') sub.maxRetryCount = num(maxRetryCount) as number
  return sub
}

/** Moves the item at index i by delta (−1 up, +1 down); out of range is a no-op. */
export function move<T>(list: T[], i: number, delta: number): T[] {
  const j = i + delta
  if (j < 0 || j >= list.length || i < 0 || i >= list.length) return list
  const out = [...list]
  ;[out[i], out[j]] = [out[j], out[i]]
  return out
}
