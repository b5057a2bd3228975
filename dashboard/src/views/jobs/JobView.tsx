// Placeholder: a UI helper replaces this view.
export function JobView() {
  return (
    <section>
      <h1>Job</h1>
    </section>
  )
}
