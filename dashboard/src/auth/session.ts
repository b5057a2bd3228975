// The console's credential: an API key (jw_...) or a JWT, pasted on the sign-in
// page. It lives in sessionStorage (this tab only, gone when the tab closes)
// unless "remember on this device" is ticked, which puts it in localStorage
// (every tab, until Sign out). The API client sends it as
// Authorization: Bearer on every request, and tells the listeners here when the
// API answers 401 (revoked, expired) so the console goes back to sign-in.
import type { ApiError } from '../api/client'

const KEY = 'jobweaver.credential'

function read(store: Storage | undefined): string | null {
  try {
    return store?.getItem(KEY) ?? null
  } catch {
    return null
  }
}

/** The credential, from this tab's session or, if remembered, this device. */
export function getCredential(): string | null {
  return read(globalThis.sessionStorage) ?? read(globalThis.localStorage)
}

/** Whether the credential is kept in localStorage (remembered on this device). */
export function isRemembered(): boolean {
  return read(globalThis.localStorage) !== null
}

export function setCredential(credential: string, remember: boolean): void {
  clearCredential()
  ;(remember ? localStorage : sessionStorage).setItem(KEY, credential)
}

export function clearCredential(): void {
  try {
    sessionStorage.removeItem(KEY)
    localStorage.removeItem(KEY)
  } catch {
    // storage unavailable: nothing kept
  }
}

type Listener = (err: ApiError) => void
const listeners = new Set<Listener>()

/** Calls fn on every 401 the API answers (the credential is gone or refused). */
export function onUnauthenticated(fn: Listener): () => void {
  listeners.add(fn)
  return () => {
    listeners.delete(fn)
  }
}

export function notifyUnauthenticated(err: ApiError): void {
  for (const fn of [...listeners]) fn(err)
}
