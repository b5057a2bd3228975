// Placeholder: a UI helper replaces this view.
export function SubmitView() {
  return (
    <section>
      <h1>Submit a job</h1>
    </section>
  )
}
