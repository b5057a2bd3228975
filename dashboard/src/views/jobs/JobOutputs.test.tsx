// The job page for the job types that keep outputs (DATA_PIPELINE, WEBHOOK),
// and for a parked (WAITING) job; the jobs list's WAITING filter.
import { screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { fmtFromNow } from './format'
import { JOB_ID, PIPELINE_SOURCE, job, pipelineExecution, pipelineJob, summary, webhookExecution, webhookJob } from './fixtures'
import { page, renderAt, route, stubApi } from './testing'

afterEach(() => vi.unstubAllGlobals())

const JOB_PATH = `/api/jobs/${JOB_ID}`

describe('fmtFromNow', () => {
  const now = Date.parse('2026-12-05T01:00:00Z')
  it.each([
    ['2026-12-05T01:03:00Z', 'in 3 min'],
    ['2026-12-05T01:00:45Z', 'in 45 s'],
    ['2026-12-05T01:00:00.500Z', 'due now'],
    ['2026-12-05T00:59:00Z', 'due now'],
    ['2026-12-05T03:30:00Z', 'in 2.5 h'],
    ['2026-12-08T01:00:00Z', 'in 3.0 days'],
    ['not a time', ''],
  ])('%s → %s', (iso, want) => {
    expect(fmtFromNow(iso, now)).toBe(want)
  })
})

describe('JobView outputs', () => {
  it('shows a DATA_PIPELINE job: step ids, outputs (a large one folded), the SCRIPT source', async () => {
    stubApi(
      route('GET', JOB_PATH, { body: pipelineJob() }),
      route('GET', `${JOB_PATH}/executions`, { body: page([pipelineExecution()]) }),
    )
    renderAt(`/jobs/${JOB_ID}`)
    const steps = await screen.findByRole('table', { name: 'Steps of attempt 1' })
    const rows = within(steps).getAllByRole('row')
    // header, cart, its output, sum, its output, LOG (no output)
    expect(rows).toHaveLength(6)
    expect(rows[1]).toHaveTextContent('cart')
    expect(rows[3]).toHaveTextContent('sum')
    expect(rows[5]).toHaveTextContent('LOG')

    // The SCRIPT's small output shows at once, pretty-printed.
    const sum = within(steps).getByLabelText('Output of step 1 (sum), attempt 1')
    expect(sum.textContent).toBe(JSON.stringify({ total: 30 }, null, 2))
    expect(sum).toBeVisible()

    // The cart's 30 items fold behind a summary that says how large they are.
    const folded = rows[2].querySelector('details')!
    expect(folded).not.toHaveAttribute('open')
    expect(within(rows[2]).getByText(/Output of step 0 \(cart\), attempt 1: \d+ lines, 1\.\d KiB/)).toBeInTheDocument()
    await userEvent.click(within(rows[2]).getByText(/Output of step 0/))
    expect(folded).toHaveAttribute('open')
    expect(within(rows[2]).getByLabelText('Output of step 0 (cart), attempt 1')).toHaveTextContent('"sku": "sku-29"')

    // The payload: ids, the HTTP_CALL's parameters, the script's source as code.
    const payload = screen.getByRole('table', { name: 'Payload steps' })
    expect(within(payload).getAllByRole('columnheader').map((h) => h.textContent)).toEqual(['#', 'Id', 'Action', 'Parameters'])
    expect(payload).toHaveTextContent('url: "https://shop.example.com/api/cart/7"')
    expect(within(payload).getByLabelText('Script source of step 1').textContent).toBe(PIPELINE_SOURCE)
    expect(screen.queryByText('The payload has no steps.')).not.toBeInTheDocument()
  })

  it('copies an output as pretty JSON', async () => {
    const writeText = vi.fn(async () => {})
    const user = userEvent.setup()
    // userEvent.setup installs its own clipboard: replace it after.
    Object.defineProperty(navigator, 'clipboard', { value: { writeText }, configurable: true })
    stubApi(
      route('GET', JOB_PATH, { body: pipelineJob() }),
      route('GET', `${JOB_PATH}/executions`, { body: page([pipelineExecution()]) }),
    )
    renderAt(`/jobs/${JOB_ID}`)
    await user.click(await screen.findByRole('button', { name: 'Copy output of step 1 (sum), attempt 1' }))
    expect(writeText).toHaveBeenCalledWith(JSON.stringify({ total: 30 }, null, 2))
    await waitFor(() => expect(screen.getByRole('button', { name: 'Copy output of step 1 (sum), attempt 1' })).toHaveTextContent('Copied'))
  })

  it('says when the API left an output out of the page', async () => {
    stubApi(
      route('GET', JOB_PATH, { body: pipelineJob() }),
      route('GET', `${JOB_PATH}/executions`, {
        body: page([pipelineExecution([{}, { output: undefined, outputOmitted: true }])]),
      }),
    )
    renderAt(`/jobs/${JOB_ID}`)
    const note = await screen.findByTestId('output-omitted')
    expect(note).toHaveTextContent('Output omitted')
    expect(note.closest('tr')).toHaveAttribute('data-output-of', '1')
    expect(screen.queryByLabelText('Output of step 1 (sum), attempt 1')).not.toBeInTheDocument()
  })

  it('marks the steps a resumed attempt took from their checkpoints', async () => {
    stubApi(
      route('GET', JOB_PATH, { body: pipelineJob() }),
      route('GET', `${JOB_PATH}/executions`, { body: page([pipelineExecution([{ resumed: true }, {}])]) }),
    )
    renderAt(`/jobs/${JOB_ID}`)
    const marks = await screen.findAllByText('resumed')
    expect(marks).toHaveLength(1)
    expect(marks[0].closest('tr')).toHaveAttribute('data-step', '0')
  })

  it('shows a WEBHOOK job: its delivery, the signing key by name, the response as output', async () => {
    stubApi(
      route('GET', JOB_PATH, { body: webhookJob() }),
      route('GET', `${JOB_PATH}/executions`, { body: page([webhookExecution()]) }),
    )
    renderAt(`/jobs/${JOB_ID}`)
    const facts = (await screen.findByText('https://hooks.example.com/orders')).closest('dl')!
    expect(facts).toHaveAttribute('aria-label', 'Webhook delivery')
    const fact = (name: string) => within(facts).getByText(name).nextElementSibling!
    expect(fact('Method')).toHaveTextContent('POST')
    expect(fact('Expected status')).toHaveTextContent('200, 202')
    expect(fact('Signing key')).toHaveTextContent('partner-a')
    expect(fact('Headers')).toHaveTextContent('X-Tenant')
    expect(fact('Headers')).not.toHaveTextContent('acme')
    expect(fact('Body')).toHaveTextContent('"orderId": 42')
    expect(screen.queryByText('The payload has no steps.')).not.toBeInTheDocument()
    const out = await screen.findByLabelText('Output of step 0, attempt 1')
    expect(JSON.parse(out.textContent!)).toEqual({ status: 202, headers: { 'Content-Length': '0' }, bytes: 0 })
  })

  it('shows a default WEBHOOK: POST, 200–299, unsigned', async () => {
    stubApi(
      route('GET', JOB_PATH, { body: webhookJob({ status: 'PENDING', finishedAt: null, payload: { url: 'https://h.example.com/' } }) }),
      route('GET', `${JOB_PATH}/executions`, { body: page([]) }),
    )
    renderAt(`/jobs/${JOB_ID}`)
    const facts = (await screen.findByText('https://h.example.com/')).closest('dl')!
    const fact = (name: string) => within(facts).getByText(name).nextElementSibling!
    expect(fact('Method')).toHaveTextContent('POST')
    expect(fact('Expected status')).toHaveTextContent('200–299')
    expect(fact('Signing key')).toHaveTextContent('none: sent unsigned')
  })
})

describe('PayloadView', () => {
  it('shows the JSON of a payload it has no view for (a type this console does not know)', async () => {
    const payload = { items: [1, 2], step: { action: 'SCRIPT', source: 'result = item' } }
    stubApi(
      route('GET', JOB_PATH, { body: job({ jobType: 'FUTURE_TYPE', payload }) }),
      route('GET', `${JOB_PATH}/executions`, { body: page([]) }),
    )
    renderAt(`/jobs/${JOB_ID}`)
    expect(await screen.findByText('This console has no view of a FUTURE_TYPE payload: see its JSON below.')).toBeInTheDocument()
    expect(JSON.parse(screen.getByText('Payload as JSON').nextElementSibling!.textContent!)).toEqual(payload)
    expect(screen.queryByText('The payload has no steps.')).not.toBeInTheDocument()
  })
})

describe('WAITING', () => {
  it('shows a parked job: its badge and when it wakes', async () => {
    const until = new Date(Date.now() + 3 * 60_000 + 20_000).toISOString()
    stubApi(
      route('GET', JOB_PATH, { body: job({ status: 'WAITING', finishedAt: null, waitingUntil: until, lastError: null, lastErrorCode: null }) }),
      route('GET', `${JOB_PATH}/executions`, { body: page([]) }),
    )
    renderAt(`/jobs/${JOB_ID}`)
    const heading = await screen.findByRole('heading', { level: 1 })
    const badge = within(heading).getByText('WAITING')
    expect(badge).toHaveClass('badge', 'badge-waiting')
    const note = screen.getByTestId('waiting-note')
    expect(note).toHaveTextContent(/waiting until .+ \(in 3 min\)/)
    expect(note.querySelector('time')).toHaveAttribute('datetime', until)
    expect(await screen.findByText('No attempt has finished yet: the job is parked.')).toBeInTheDocument()
  })

  it('lets an operator cancel a parked job', async () => {
    stubApi(
      route('GET', JOB_PATH, { body: job({ status: 'WAITING', finishedAt: null, waitingUntil: new Date(Date.now() + 60_000).toISOString(), lastError: null, lastErrorCode: null }) }),
      route('GET', `${JOB_PATH}/executions`, { body: page([]) }),
    )
    renderAt(`/jobs/${JOB_ID}`)
    expect(await screen.findByRole('button', { name: /Cancel job/ })).toBeInTheDocument()
  })

  it('shows a parked job with no wake time as waiting for a callback', async () => {
    stubApi(
      route('GET', JOB_PATH, { body: job({ status: 'WAITING', finishedAt: null, waitingUntil: null }) }),
      route('GET', `${JOB_PATH}/executions`, { body: page([]) }),
    )
    renderAt(`/jobs/${JOB_ID}`)
    expect(await screen.findByTestId('waiting-note')).toHaveTextContent('waiting for a callback')
  })

  it('shows the callback URL of a job waiting at WAIT_FOR_CALLBACK', async () => {
    const expiresAt = new Date(Date.now() + 2 * 3600_000 + 30_000).toISOString()
    const url = `http://localhost:8080/api/jobs/${JOB_ID}/callbacks/AbCdEfGhIjKlMnOpQrStUvWxYz012345`
    stubApi(
      route('GET', JOB_PATH, {
        body: job({
          status: 'WAITING', finishedAt: null, waitingUntil: expiresAt, lastError: null, lastErrorCode: null,
          callback: { token: 'AbCdEfGhIjKlMnOpQrStUvWxYz012345', url, stepIndex: 1, stepId: 'approval', expiresAt },
        }),
      }),
      route('GET', `${JOB_PATH}/executions`, { body: page([]) }),
    )
    renderAt(`/jobs/${JOB_ID}`)
    const note = await screen.findByTestId('callback-note')
    expect(note).toHaveTextContent('step 1 (approval)')
    expect(note).toHaveTextContent(/times out .+ \(in 2\.0 h\)/)
    expect(screen.getByTestId('callback-url')).toHaveTextContent(url)
    expect(within(note).getByRole('button', { name: 'Copy callback URL' })).toBeInTheDocument()
  })

  it('shows no callback URL for a parked SLEEP', async () => {
    stubApi(
      route('GET', JOB_PATH, { body: job({ status: 'WAITING', finishedAt: null, waitingUntil: new Date(Date.now() + 60_000).toISOString() }) }),
      route('GET', `${JOB_PATH}/executions`, { body: page([]) }),
    )
    renderAt(`/jobs/${JOB_ID}`)
    await screen.findByTestId('waiting-note')
    expect(screen.queryByTestId('callback-note')).toBeNull()
  })

  it('has a WAITING filter in the jobs list, and shows the wake time in the row', async () => {
    const until = '2026-12-05T01:03:00.000Z'
    const { calls } = stubApi(
      route('GET', '/api/jobs', { body: page([summary(1, { status: 'WAITING', finishedAt: null, waitingUntil: until })]) }),
    )
    renderAt('/')
    const table = await screen.findByRole('table')
    const row = within(table).getAllByRole('row')[1]
    expect(within(row).getByText('WAITING')).toHaveClass('badge-waiting')
    expect(row.querySelector('.waiting-until time')).toHaveAttribute('datetime', until)
    await userEvent.selectOptions(screen.getByLabelText('Status'), 'WAITING')
    await waitFor(() => {
      const list = calls.filter((c) => c.method === 'GET' && c.path === '/api/jobs')
      expect(list[list.length - 1].query.get('status')).toBe('WAITING')
    })
  })
})
