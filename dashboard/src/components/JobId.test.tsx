import { render, screen } from '@testing-library/react'
import { JobId, idTail } from './JobId'

describe('JobId', () => {
  it.each([
    ['0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b', '…0c1d2e3f4a5b'],
    ['short', 'short'],
  ])('shows the tail of %s', (id, want) => {
    expect(idTail(id)).toBe(want)
  })

  it('never shows the head, and keeps the whole ID as its title', () => {
    const id = '0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b'
    render(<JobId id={id} />)
    const el = screen.getByText('…0c1d2e3f4a5b')
    expect(el).toHaveAttribute('title', id)
    expect(el.textContent).not.toContain('0193a1b2')
  })
})
