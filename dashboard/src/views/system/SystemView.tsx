// Placeholder: a UI helper replaces this view.
export function SystemView() {
  return (
    <section>
      <h1>System health</h1>
    </section>
  )
}
