// Job submission: a form with a step builder (add, remove, reorder with
// buttons), each action's own fields with the API's limits, and a JSON preview
// of what is sent. WEBHOOK and DATA_PIPELINE jobs are edited as a JSON payload
// that starts as an example of the type. The API validates: its 400 `details`
// show at the fields they name (a script's parse error, naming the line, under
// the payload). A new job opens on its own page, live.
import { useEffect, useRef, useState, type FormEvent } from 'react'
import { useNavigate } from '@tanstack/react-router'
import { useMutation } from '@tanstack/react-query'
import { ApiError, apiSend } from '../../api/client'
import { JOB_TYPES, type Accepted, type JobSubmission, type JobType } from '../../api/types'
import { ProblemNote } from '../../components/ProblemNote'
import { RoleRequired } from '../../auth/auth'
import { exampleText, PAYLOAD_HELP, parsePayload } from './examples'
import { ACTIONS, HTTP_METHODS, LIMITS, move, newStep, toSubmission, type Action, type StepDraft } from './steps'

type FieldErrors = Record<string, string>

const STEP_FIELDS = new Set(['action', 'durationMs', 'message', 'iterations', 'url', 'method', 'timeoutMs', 'latencyMs', 'failTimes'])

const ACTION_HELP: Record<Action, string> = {
  SLEEP: 'waits durationMs',
  LOG: 'logs a message',
  COMPUTE: 'burns CPU for a number of iterations',
  HTTP_CALL: 'calls a URL, or simulates a call that takes latencyMs',
  FAIL: 'fails the attempt (with failTimes: only the first attempts)',
}

export function SubmitView() {
  return (
    <RoleRequired role="operator" what="submit jobs">
      <SubmitForm />
    </RoleRequired>
  )
}

function SubmitForm() {
  const navigate = useNavigate()
  const [jobType, setJobType] = useState<JobType>(JOB_TYPES[0])
  const [payloadText, setPayloadText] = useState<Record<string, string>>({})
  const [maxRetryCount, setMaxRetryCount] = useState(String(LIMITS.maxRetryCount.default))
  const [steps, setSteps] = useState<StepDraft[]>(() => [newStep('LOG'), newStep('SLEEP')])
  const [errors, setErrors] = useState<FieldErrors>({})
  const [announce, setAnnounce] = useState('')
  const [focusId, setFocusId] = useState<string | null>(null)
  const summaryRef = useRef<HTMLDivElement>(null)

  useEffect(() => {
    if (!focusId) return
    document.getElementById(focusId)?.focus()
    setFocusId(null)
  }, [focusId])

  const simulation = jobType === 'SIMULATION'
  const text = jobType === 'SIMULATION' ? '' : (payloadText[jobType] ?? exampleText(jobType))
  const parsed = simulation ? null : parsePayload(text)
  const body: JobSubmission = simulation
    ? toSubmission(jobType, steps, maxRetryCount)
    : { ...toSubmission(jobType, [], maxRetryCount), payload: parsed?.ok ? (parsed.value as JobSubmission['payload']) : {} }

  const submit = useMutation({
    mutationFn: (sub: JobSubmission) => apiSend<Accepted>('POST', '/api/jobs', sub),
    onSuccess: (res) => {
      void navigate({ to: '/jobs/$jobId', params: { jobId: res.jobId } })
    },
    onError: (err) => {
      setErrors(err instanceof ApiError ? err.fieldErrors() : {})
      requestAnimationFrame(() => summaryRef.current?.focus())
    },
  })

  function update(key: number, patch: Partial<StepDraft>) {
    setSteps((list) => list.map((s) => (s.key === key ? { ...s, ...patch } : s)))
  }

  /** Step edits that shift indexes make the API's old errors point at the wrong step: drop them. */
  function reshape(next: StepDraft[], message: string, focus: string | null) {
    setSteps(next)
    setErrors({})
    setAnnounce(message)
    setFocusId(focus)
  }

  function add() {
    if (steps.length >= LIMITS.steps.max) return
    const s = newStep('SLEEP')
    reshape([...steps, s], `Step ${steps.length + 1} added.`, `step-${s.key}-action`)
  }

  function remove(i: number) {
    if (steps.length <= LIMITS.steps.min) return
    const next = steps.filter((_, j) => j !== i)
    const focus = next[i] ?? next[i - 1]
    reshape(next, `Step ${i + 1} removed.`, focus ? `step-${focus.key}-action` : 'add-step')
  }

  function reorder(i: number, delta: number) {
    const next = move(steps, i, delta)
    if (next === steps) return
    const s = steps[i]
    const to = i + delta
    // Keep focus on the moved step's button, or its other one at an edge.
    const dir = delta < 0 ? 'up' : 'down'
    const other = delta < 0 ? 'down' : 'up'
    const atEdge = (delta < 0 && to === 0) || (delta > 0 && to === next.length - 1)
    reshape(next, `Step ${i + 1} moved to position ${to + 1}.`, `step-${s.key}-${atEdge ? other : dir}`)
  }

  function onSubmit(e: FormEvent) {
    e.preventDefault()
    setErrors({})
    if (parsed && !parsed.ok) {
      document.getElementById('payload')?.focus()
      return
    }
    submit.mutate(body)
  }

  function pickType(t: JobType) {
    setJobType(t)
    setErrors({})
    submit.reset()
  }

  const stepErr = (i: number, field: string) => errors[`payload.steps[${i}].${field}`] ?? errors[`steps[${i}].${field}`]
  const placed = (k: string) => {
    if (['jobType', 'maxRetryCount', 'payload.steps'].includes(k)) return true
    if (!simulation) return k === 'payload' || k.startsWith('payload.')
    const m = /^(?:payload\.)?steps\[(\d+)\](?:\.(\w+))?$/.exec(k)
    return m !== null && Number(m[1]) < steps.length && (m[2] === undefined || STEP_FIELDS.has(m[2]))
  }
  const errorList = Object.entries(errors)
  const unplaced = errorList.filter(([k]) => !placed(k))

  return (
    <section className="submit">
      <h1>Submit a job</h1>
      <form onSubmit={onSubmit} noValidate aria-describedby="submit-help">
        <p id="submit-help" className="muted">
          A job runs its steps in order. The API checks the limits shown on each field; its answers show next to the field they name.
        </p>
        {submit.isError && (
          <div className="error-summary" role="alert" tabIndex={-1} ref={summaryRef}>
            <strong>
              The API refused the job{submit.error instanceof ApiError && submit.error.code ? ` (${submit.error.code})` : ''}.
            </strong>
            {errorList.length > 0 ? (
              <ul>
                {errorList.map(([k, v]) => (
                  <li key={k}>
                    {k ? <code>{k}</code> : null}
                    {k ? ': ' : ''}
                    {v}
                  </li>
                ))}
              </ul>
            ) : (
              <ProblemNote error={submit.error} what="Submitting a job" />
            )}
            {unplaced.length > 0 && <p className="muted">Some of these name no field on this form.</p>}
          </div>
        )}

        <div className="form-row">
          <Field id="jobType" label="Job type" error={errors['jobType']}>
            {(p) => (
              <select {...p} value={jobType} onChange={(e) => pickType(e.target.value as JobType)}>
                {JOB_TYPES.map((t) => (
                  <option key={t}>{t}</option>
                ))}
              </select>
            )}
          </Field>
          <Field id="maxRetryCount" label={`Max retries (${LIMITS.maxRetryCount.min}–${LIMITS.maxRetryCount.max})`} error={errors['maxRetryCount']}>
            {(p) => (
              <input
                {...p}
                type="number"
                inputMode="numeric"
                min={LIMITS.maxRetryCount.min}
                max={LIMITS.maxRetryCount.max}
                step={1}
                value={maxRetryCount}
                onChange={(e) => setMaxRetryCount(e.target.value)}
              />
            )}
          </Field>
        </div>

        {simulation ? (
          <fieldset className="steps" aria-describedby={errors['payload.steps'] ? 'steps-error' : undefined}>
            <legend>
              Steps ({steps.length} of at most {LIMITS.steps.max})
            </legend>
            {errors['payload.steps'] && (
              <p id="steps-error" className="field-error">
                {errors['payload.steps']}
              </p>
            )}
            <ol className="step-list">
              {steps.map((s, i) => (
                <li key={s.key} className="step">
                  <fieldset aria-label={`Step ${i + 1}`}>
                    <div className="step-head">
                      <span className="step-no" aria-hidden="true">
                        {i + 1}
                      </span>
                      <Field id={`step-${s.key}-action`} label={`Step ${i + 1} action`} error={stepErr(i, 'action') ?? errors[`payload.steps[${i}]`]}>
                        {(p) => (
                          <select {...p} value={s.action} onChange={(e) => update(s.key, { action: e.target.value as Action })}>
                            {ACTIONS.map((a) => (
                              <option key={a}>{a}</option>
                            ))}
                          </select>
                        )}
                      </Field>
                      <span className="muted step-help">{ACTION_HELP[s.action]}</span>
                      <div className="step-buttons" role="group" aria-label={`Step ${i + 1} order`}>
                        <button type="button" id={`step-${s.key}-up`} onClick={() => reorder(i, -1)} disabled={i === 0} aria-label={`Move step ${i + 1} up`}>
                          ↑
                        </button>
                        <button
                          type="button"
                          id={`step-${s.key}-down`}
                          onClick={() => reorder(i, 1)}
                          disabled={i === steps.length - 1}
                          aria-label={`Move step ${i + 1} down`}
                        >
                          ↓
                        </button>
                        <button
                          type="button"
                          className="danger"
                          onClick={() => remove(i)}
                          disabled={steps.length <= LIMITS.steps.min}
                          aria-label={`Remove step ${i + 1}`}
                        >
                          Remove
                        </button>
                      </div>
                    </div>
                    <StepFields s={s} i={i} err={(f) => stepErr(i, f)} update={(patch) => update(s.key, patch)} />
                  </fieldset>
                </li>
              ))}
            </ol>
            <button type="button" id="add-step" onClick={add} disabled={steps.length >= LIMITS.steps.max}>
              + Add step
            </button>
            <p className="visually-hidden" aria-live="polite">
              {announce}
            </p>
          </fieldset>
        ) : (
          <PayloadField
            jobType={jobType}
            text={text}
            parseError={parsed && !parsed.ok ? parsed.error : undefined}
            errors={errorList.filter(([k]) => k === 'payload' || k.startsWith('payload.'))}
            onChange={(v) => setPayloadText((m) => ({ ...m, [jobType]: v }))}
            onExample={() => setPayloadText((m) => ({ ...m, [jobType]: exampleText(jobType) }))}
          />
        )}

        <div className="actions">
          <button type="submit" className="primary" disabled={submit.isPending}>
            {submit.isPending ? 'Submitting…' : 'Submit job'}
          </button>
        </div>
      </form>

      <details className="json-preview" open>
        <summary>JSON sent to POST /api/jobs</summary>
        <pre className="json" data-testid="json-preview" tabIndex={0}>
          {parsed && !parsed.ok ? `The payload is ${parsed.error}` : JSON.stringify(body, null, 2)}
        </pre>
      </details>
    </section>
  )
}

/** A WEBHOOK's or DATA_PIPELINE's payload as JSON, with the API's errors about it beneath. */
function PayloadField({
  jobType,
  text,
  parseError,
  errors,
  onChange,
  onExample,
}: {
  jobType: Exclude<JobType, 'SIMULATION'>
  text: string
  parseError?: string
  errors: [string, string][]
  onChange: (v: string) => void
  onExample: () => void
}) {
  const invalid = parseError !== undefined || errors.length > 0
  return (
    <div className="field payload-field">
      <label htmlFor="payload">{jobType} payload (JSON)</label>
      <span id="payload-hint" className="hint">
        {PAYLOAD_HELP[jobType]}
      </span>
      <textarea
        id="payload"
        className="json"
        rows={16}
        spellCheck={false}
        value={text}
        aria-invalid={invalid ? true : undefined}
        aria-describedby={['payload-hint', invalid ? 'payload-error' : ''].filter(Boolean).join(' ')}
        onChange={(e) => onChange(e.target.value)}
      />
      {invalid && (
        <div id="payload-error" className="field-error">
          {parseError && <p>The payload is {parseError}</p>}
          {errors.length > 0 && (
            <ul>
              {errors.map(([k, v]) => (
                <li key={k}>
                  <code>{k}</code>: {v}
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
      <div>
        <button type="button" onClick={onExample}>
          Reset to the {jobType} example
        </button>
      </div>
    </div>
  )
}

interface FieldProps {
  id: string
  'aria-invalid'?: boolean
  'aria-describedby'?: string
}

function Field({
  id,
  label,
  error,
  hint,
  children,
}: {
  id: string
  label: string
  error?: string
  hint?: string
  children: (p: FieldProps) => React.ReactNode
}) {
  const describedBy = [error ? `${id}-error` : '', hint ? `${id}-hint` : ''].filter(Boolean).join(' ') || undefined
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {children({ id, 'aria-invalid': error ? true : undefined, 'aria-describedby': describedBy })}
      {hint && (
        <span id={`${id}-hint`} className="hint">
          {hint}
        </span>
      )}
      {error && (
        <span id={`${id}-error`} className="field-error">
          {error}
        </span>
      )}
    </div>
  )
}

function NumberField({
  id,
  label,
  value,
  min,
  max,
  error,
  hint,
  disabled,
  onChange,
}: {
  id: string
  label: string
  value: string
  min: number
  max: number
  error?: string
  hint?: string
  disabled?: boolean
  onChange: (v: string) => void
}) {
  return (
    <Field id={id} label={`${label} (${min.toLocaleString('en')}–${max.toLocaleString('en')})`} error={error} hint={hint}>
      {(p) => (
        <input {...p} type="number" inputMode="numeric" step={1} min={min} max={max} value={value} disabled={disabled} onChange={(e) => onChange(e.target.value)} />
      )}
    </Field>
  )
}

function StepFields({
  s,
  i,
  err,
  update,
}: {
  s: StepDraft
  i: number
  err: (field: string) => string | undefined
  update: (patch: Partial<StepDraft>) => void
}) {
  const id = (f: string) => `step-${s.key}-${f}`
  const n = i + 1
  switch (s.action) {
    case 'SLEEP':
      return (
        <div className="step-fields">
          <NumberField id={id('durationMs')} label={`Step ${n} duration ms`} value={s.durationMs} {...LIMITS.durationMs} error={err('durationMs')} onChange={(v) => update({ durationMs: v })} />
        </div>
      )
    case 'LOG':
      return (
        <div className="step-fields">
          <MessageField id={id('message')} label={`Step ${n} message`} value={s.message} error={err('message')} onChange={(v) => update({ message: v })} />
        </div>
      )
    case 'COMPUTE':
      return (
        <div className="step-fields">
          <NumberField id={id('iterations')} label={`Step ${n} iterations`} value={s.iterations} {...LIMITS.iterations} error={err('iterations')} onChange={(v) => update({ iterations: v })} />
        </div>
      )
    case 'HTTP_CALL': {
      const noUrl = s.url.trim() === ''
      return (
        <div className="step-fields">
          <Field id={id('url')} label={`Step ${n} URL (optional)`} error={err('url')} hint="Without a URL the call is simulated: it waits latencyMs.">
            {(p) => <input {...p} type="url" maxLength={LIMITS.url.max} placeholder="https://example.com/" value={s.url} onChange={(e) => update({ url: e.target.value })} />}
          </Field>
          <Field id={id('method')} label={`Step ${n} method`} error={err('method')}>
            {(p) => (
              <select {...p} value={s.method} disabled={noUrl} onChange={(e) => update({ method: e.target.value })}>
                <option value="">default (GET)</option>
                {HTTP_METHODS.map((m) => (
                  <option key={m}>{m}</option>
                ))}
              </select>
            )}
          </Field>
          <NumberField
            id={id('timeoutMs')}
            label={`Step ${n} timeout ms`}
            value={s.timeoutMs}
            {...LIMITS.timeoutMs}
            disabled={noUrl}
            error={err('timeoutMs')}
            onChange={(v) => update({ timeoutMs: v })}
          />
          <NumberField id={id('latencyMs')} label={`Step ${n} latency ms`} value={s.latencyMs} {...LIMITS.latencyMs} error={err('latencyMs')} onChange={(v) => update({ latencyMs: v })} />
        </div>
      )
    }
    case 'FAIL':
      return (
        <div className="step-fields">
          <MessageField id={id('message')} label={`Step ${n} message (optional)`} value={s.message} error={err('message')} onChange={(v) => update({ message: v })} />
          <NumberField
            id={id('failTimes')}
            label={`Step ${n} fail times`}
            value={s.failTimes}
            {...LIMITS.failTimes}
            hint="Empty: every attempt fails."
            error={err('failTimes')}
            onChange={(v) => update({ failTimes: v })}
          />
        </div>
      )
  }
}

function MessageField({ id, label, value, error, onChange }: { id: string; label: string; value: string; error?: string; onChange: (v: string) => void }) {
  return (
    <Field id={id} label={label} error={error} hint={`${value.length} / ${LIMITS.message.max} characters`}>
      {(p) => <textarea {...p} rows={2} maxLength={LIMITS.message.max} value={value} onChange={(e) => onChange(e.target.value)} />}
    </Field>
  )
}
