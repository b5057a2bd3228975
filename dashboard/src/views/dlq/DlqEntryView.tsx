// Placeholder: a UI helper replaces this view.
export function DlqEntryView() {
  return (
    <section>
      <h1>Dead letter</h1>
    </section>
  )
}
