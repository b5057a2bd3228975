// The rendered width of an element, kept current with a ResizeObserver, so SVG
// charts can lay themselves out in real pixels (text stays unstretched). Where
// there is no ResizeObserver (jsdom) the fallback width is used.
import { useCallback, useState } from 'react'

export function useElementWidth<T extends HTMLElement>(fallback = 800): [(el: T | null) => void, number] {
  const [width, setWidth] = useState(fallback)
  const ref = useCallback(
    (el: T | null) => {
      if (!el) return
      const measure = () => {
        const w = Math.floor(el.getBoundingClientRect().width)
        if (w > 0) setWidth(w)
      }
      measure()
      if (typeof ResizeObserver === 'undefined') return
      const ro = new ResizeObserver(measure)
      ro.observe(el)
      return () => ro.disconnect()
    },
    [],
  )
  return [ref, width]
}
