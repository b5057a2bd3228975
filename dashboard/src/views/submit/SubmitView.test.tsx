import { fireEvent, screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { apiError, renderAt, stubApi } from '../../test/renderOps'
import { move, newStep, toStep } from './steps'

afterEach(() => {
  vi.unstubAllGlobals()
})

function preview(): unknown {
  return JSON.parse(screen.getByTestId('json-preview').textContent ?? '')
}

function actions(): string[] {
  return (preview() as { payload: { steps: { action: string }[] } }).payload.steps.map((s) => s.action)
}

describe('steps', () => {
  it.each([
    [0, -1, ['a', 'b', 'c']],
    [0, 1, ['b', 'a', 'c']],
    [2, -1, ['a', 'c', 'b']],
    [2, 1, ['a', 'b', 'c']],
  ])('move(%i, %i)', (i, d, want) => {
    expect(move(['a', 'b', 'c'], i, d)).toEqual(want)
  })

  it('sends method and timeout only with a url, and keeps what the API must judge', () => {
    const s = { ...newStep('HTTP_CALL'), method: 'POST', timeoutMs: '500', latencyMs: '' }
    expect(toStep(s)).toEqual({ action: 'HTTP_CALL' })
    expect(toStep({ ...s, url: ' https://example.com/ ' })).toEqual({ action: 'HTTP_CALL', url: 'https://example.com/', method: 'POST', timeoutMs: 500 })
    expect(toStep({ ...newStep('SLEEP'), durationMs: '1.5' })).toEqual({ action: 'SLEEP', durationMs: '1.5' })
    expect(toStep({ ...newStep('FAIL'), failTimes: '2' })).toEqual({ action: 'FAIL', failTimes: 2 })
  })
})

describe('SubmitView', () => {
  it('adds, removes and reorders steps with buttons, and keeps focus on the moved step', async () => {
    stubApi({})
    renderAt('/submit')
    const user = userEvent.setup()
    await screen.findByRole('heading', { name: 'Submit a job' })
    expect(actions()).toEqual(['LOG', 'SLEEP'])

    await user.click(screen.getByRole('button', { name: '+ Add step' }))
    expect(screen.getByLabelText('Step 3 action')).toHaveFocus()
    await user.selectOptions(screen.getByLabelText('Step 3 action'), 'COMPUTE')
    expect(actions()).toEqual(['LOG', 'SLEEP', 'COMPUTE'])

    await user.click(screen.getByRole('button', { name: 'Move step 3 up' }))
    expect(actions()).toEqual(['LOG', 'COMPUTE', 'SLEEP'])
    expect(screen.getByRole('button', { name: 'Move step 2 up' })).toHaveFocus()
    // The keyboard: Enter on the focused button moves it again; at the top, focus goes to its other button.
    await user.keyboard('{Enter}')
    expect(actions()).toEqual(['COMPUTE', 'LOG', 'SLEEP'])
    expect(screen.getByRole('button', { name: 'Move step 1 down' })).toHaveFocus()
    expect(screen.getByRole('button', { name: 'Move step 1 up' })).toBeDisabled()

    await user.click(screen.getByRole('button', { name: 'Remove step 2' }))
    expect(actions()).toEqual(['COMPUTE', 'SLEEP'])
    await user.click(screen.getByRole('button', { name: 'Remove step 2' }))
    expect(actions()).toEqual(['COMPUTE'])
    expect(screen.getByRole('button', { name: 'Remove step 1' })).toBeDisabled()
  })

  it('shows the API limits on the inputs', async () => {
    stubApi({})
    renderAt('/submit')
    const user = userEvent.setup()
    const dur = await screen.findByLabelText('Step 2 duration ms (0–300,000)')
    expect(dur).toHaveAttribute('min', '0')
    expect(dur).toHaveAttribute('max', '300000')
    expect(screen.getByLabelText('Max retries (0–20)')).toHaveAttribute('max', '20')
    await user.selectOptions(screen.getByLabelText('Step 2 action'), 'HTTP_CALL')
    expect(screen.getByLabelText('Step 2 timeout ms (1–30,000)')).toBeDisabled()
    await user.type(screen.getByLabelText('Step 2 URL (optional)'), 'https://example.com/')
    expect(screen.getByLabelText('Step 2 timeout ms (1–30,000)')).toBeEnabled()
    expect(screen.getByLabelText('Step 2 latency ms (0–60,000)')).toHaveAttribute('max', '60000')
    await user.selectOptions(screen.getByLabelText('Step 2 action'), 'FAIL')
    expect(screen.getByLabelText('Step 2 fail times (0–20)')).toHaveAttribute('max', '20')
  })

  it('sends the JSON it previews, and opens the new job', async () => {
    const JOB = '0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b'
    const api = stubApi({
      'POST /api/jobs': { status: 202, body: { jobId: JOB, traceId: 't' } },
      [`GET /api/jobs/${JOB}`]: { body: { jobId: JOB, status: 'PENDING' } },
    })
    const { router } = renderAt('/submit')
    const user = userEvent.setup()
    const retries = await screen.findByLabelText('Max retries (0–20)')
    await user.clear(retries)
    await user.type(retries, '0')
    await user.selectOptions(screen.getByLabelText('Step 2 action'), 'FAIL')
    await user.type(screen.getByLabelText('Step 2 fail times (0–20)'), '1')
    fireEvent.change(screen.getByLabelText('Step 1 message'), { target: { value: 'from the form' } })
    const want = {
      jobType: 'SIMULATION',
      payload: { steps: [{ action: 'LOG', message: 'from the form' }, { action: 'FAIL', failTimes: 1 }] },
      maxRetryCount: 0,
    }
    expect(preview()).toEqual(want)
    await user.click(screen.getByRole('button', { name: 'Submit job' }))
    await waitFor(() => expect(router.state.location.pathname).toBe(`/jobs/${JOB}`))
    expect(api.sent('POST /api/jobs')[0].body).toEqual(want)
  })

  it('shows the API validation errors at the fields they name', async () => {
    stubApi({
      'POST /api/jobs': apiError(400, 'API.INVALID_REQUEST', 'invalid job submission', [
        'payload.steps[1].durationMs: must be between 0 and 300000 (got 400000)',
        'maxRetryCount: must be between 0 and 20 (got 30)',
        'payload.extra: unknown field',
      ]),
    })
    const { router } = renderAt('/submit')
    const user = userEvent.setup()
    const dur = await screen.findByLabelText('Step 2 duration ms (0–300,000)')
    await user.clear(dur)
    await user.type(dur, '400000')
    await user.click(screen.getByRole('button', { name: 'Submit job' }))

    await waitFor(() => expect(dur).toHaveAttribute('aria-invalid', 'true'))
    expect(dur).toHaveAccessibleDescription('must be between 0 and 300000 (got 400000)')
    expect(screen.getByLabelText('Max retries (0–20)')).toHaveAttribute('aria-invalid', 'true')
    expect(screen.getByLabelText('Step 1 message')).not.toHaveAttribute('aria-invalid')
    const summary = screen.getByRole('alert')
    expect(summary).toHaveTextContent('The API refused the job (API.INVALID_REQUEST).')
    expect(within(summary).getByText('payload.extra')).toBeInTheDocument()
    expect(summary).toHaveTextContent('Some of these name no field on this form.')
    expect(router.state.location.pathname).toBe('/submit')

    // Reshaping the steps makes the indexes stale: the errors go.
    await user.click(screen.getByRole('button', { name: '+ Add step' }))
    expect(dur).not.toHaveAttribute('aria-invalid')
  })
})

describe('SubmitView job types', () => {
  it.each([
    ['DATA_PIPELINE', /"action": "SCRIPT"/],
    ['WEBHOOK', /"url": "https:\/\/hooks\.example\.com\/orders"/],
    ['BATCH_PROCESS', /"items": \[/],
  ])('offers %s with an example payload, sent as it is previewed', async (type, shows) => {
    const JOB = '0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b'
    const api = stubApi({
      'POST /api/jobs': { status: 202, body: { jobId: JOB, traceId: 't' } },
      [`GET /api/jobs/${JOB}`]: { body: { jobId: JOB, status: 'PENDING' } },
    })
    const { router } = renderAt('/submit')
    const user = userEvent.setup()
    await user.selectOptions(await screen.findByLabelText('Job type'), type)
    expect(screen.queryByLabelText('Step 1 action')).not.toBeInTheDocument()
    const payload = screen.getByLabelText(`${type} payload (JSON)`) as HTMLTextAreaElement
    expect(payload.value).toMatch(shows)
    const want = { jobType: type, payload: JSON.parse(payload.value), maxRetryCount: 3 }
    expect(preview()).toEqual(want)
    await user.click(screen.getByRole('button', { name: 'Submit job' }))
    await waitFor(() => expect(router.state.location.pathname).toBe(`/jobs/${JOB}`))
    expect(api.sent('POST /api/jobs')[0].body).toEqual(want)
  })

  it('shows a script parse error from the API next to the payload', async () => {
    const msg = 'line 3: got end of file, want primary expression'
    stubApi({
      'POST /api/jobs': apiError(400, 'API.INVALID_REQUEST', 'invalid job submission', [`payload.steps[1].source: ${msg}`]),
    })
    renderAt('/submit')
    const user = userEvent.setup()
    await user.selectOptions(await screen.findByLabelText('Job type'), 'DATA_PIPELINE')
    await user.click(screen.getByRole('button', { name: 'Submit job' }))
    const payload = screen.getByLabelText('DATA_PIPELINE payload (JSON)')
    await waitFor(() => expect(payload).toHaveAttribute('aria-invalid', 'true'))
    expect(payload).toHaveAccessibleDescription(expect.stringContaining(`payload.steps[1].source: ${msg}`))
    expect(screen.getByRole('alert')).not.toHaveTextContent('Some of these name no field on this form.')
  })

  it('does not send a payload that is not JSON, and says why', async () => {
    const api = stubApi({})
    renderAt('/submit')
    const user = userEvent.setup()
    await user.selectOptions(await screen.findByLabelText('Job type'), 'WEBHOOK')
    const payload = screen.getByLabelText('WEBHOOK payload (JSON)')
    fireEvent.change(payload, { target: { value: '{"url": ' } })
    expect(payload).toHaveAttribute('aria-invalid', 'true')
    expect(payload).toHaveAccessibleDescription(expect.stringContaining('The payload is not JSON'))
    await user.click(screen.getByRole('button', { name: 'Submit job' }))
    expect(api.sent('POST /api/jobs')).toHaveLength(0)
    expect(payload).toHaveFocus()
    await user.click(screen.getByRole('button', { name: 'Reset to the WEBHOOK example' }))
    expect(payload).not.toHaveAttribute('aria-invalid')
  })
})
