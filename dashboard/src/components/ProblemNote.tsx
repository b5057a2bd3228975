// An inline failure note for an action (retry, dismiss, submit): the API's own
// message and code, said in one line, announced to screen readers.
import { describeProblem } from './apiProblem'

export function ProblemNote({ error, what }: { error: unknown; what?: string }) {
  if (!error) return null
  return (
    <p className="state error problem-note" role="alert">
      {describeProblem(error, what)}
    </p>
  )
}
