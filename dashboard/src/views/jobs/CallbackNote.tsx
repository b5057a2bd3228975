// A job WAITING at a WAIT_FOR_CALLBACK step: the callback URL to hand to whoever
// answers (no API key needed: the token in it is the credential, good once), the
// step, and when the wait times out (the job then fails with WORKER.CALLBACK_TIMEOUT).
import type { JobCallback } from '../../api/types'
import { CopyButton } from '../../components/CopyButton'
import { fmtFromNow, fmtWhen } from './format'

export function CallbackNote({ callback: c, now }: { callback: JobCallback; now: number }) {
  const step = c.stepId ? `step ${c.stepIndex} (${c.stepId})` : `step ${c.stepIndex}`
  const curl = `curl -X POST '${c.url}' -H 'Content-Type: application/json' -d '{"approved": true}'`
  return (
    <section className="callback-note" data-testid="callback-note" aria-label="Callback">
      <p>
        Waiting for a callback at {step}: POST any JSON (at most 64 KiB) to this URL. It needs no API key and
        works once; the body becomes the step&apos;s output. It times out{' '}
        <time dateTime={c.expiresAt}>{fmtWhen(c.expiresAt)}</time> ({fmtFromNow(c.expiresAt, now)}).
      </p>
      <p className="callback-url">
        <code data-testid="callback-url">{c.url}</code> <CopyButton text={c.url} what="callback URL" />
      </p>
      <p className="callback-curl">
        <code>{curl}</code> <CopyButton text={curl} what="curl command" />
      </p>
    </section>
  )
}
