// API keys (admin): the list, a form that creates one and shows it once with a
// copy button, and revoke. Everything goes through the public API (/api/keys).
import { useState, type FormEvent } from 'react'
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { apiGet, apiSend } from '../../api/client'
import type { ApiKey, CreatedKey, Role } from '../../api/types'
import { RoleRequired, useAuth } from '../../auth/auth'
import { Confirm } from '../../components/Confirm'
import { CopyButton } from '../../components/CopyButton'
import { ProblemNote } from '../../components/ProblemNote'
import { Empty, ErrorState, Loading } from '../../components/states'
import { fmtTime } from '../../components/time'
import { usePollInterval } from '../../poll/poll'

const ROLES: Role[] = ['viewer', 'operator', 'admin']

export function KeysView() {
  return (
    <RoleRequired role="admin" what="manage API keys">
      <Keys />
    </RoleRequired>
  )
}

function Keys() {
  const qc = useQueryClient()
  const { me } = useAuth()
  const poll = usePollInterval()
  const keys = useQuery({
    queryKey: ['keys'],
    queryFn: ({ signal }) => apiGet<{ content: ApiKey[] }>('/api/keys', undefined, signal),
    refetchInterval: poll,
  })
  const [name, setName] = useState('')
  const [role, setRole] = useState<Role>('viewer')
  const [expiresAt, setExpiresAt] = useState('')
  const [created, setCreated] = useState<CreatedKey | null>(null)
  const [revoking, setRevoking] = useState<ApiKey | null>(null)

  const create = useMutation({
    mutationFn: () =>
      apiSend<CreatedKey>('POST', '/api/keys', {
        name: name.trim(),
        role,
        ...(expiresAt ? { expiresAt: new Date(expiresAt).toISOString() } : {}),
      }),
    onSuccess: (k) => {
      setCreated(k)
      setName('')
      void qc.invalidateQueries({ queryKey: ['keys'] })
    },
  })
  const revoke = useMutation({
    mutationFn: (id: string) => apiSend<ApiKey>('DELETE', `/api/keys/${id}`),
    onSettled: () => {
      setRevoking(null)
      void qc.invalidateQueries({ queryKey: ['keys'] })
    },
  })

  function onCreate(e: FormEvent<HTMLFormElement>) {
    e.preventDefault()
    setCreated(null)
    create.mutate()
  }

  return (
    <section className="keys-page">
      <h1>API keys</h1>
      <form className="filters key-form" onSubmit={onCreate} aria-label="Create an API key">
        <label>
          <span>Name</span>
          <input value={name} onChange={(e) => setName(e.target.value)} maxLength={100} required placeholder="ci deployer" />
        </label>
        <label>
          <span>Role</span>
          <select value={role} onChange={(e) => setRole(e.target.value as Role)}>
            {ROLES.map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
        </label>
        <label>
          <span>Expires (optional)</span>
          <input type="datetime-local" value={expiresAt} onChange={(e) => setExpiresAt(e.target.value)} />
        </label>
        <button type="submit" className="primary" disabled={create.isPending}>
          {create.isPending ? 'Creating…' : 'Create key'}
        </button>
      </form>
      {create.isError && <ProblemNote error={create.error} what="Creating a key (POST /api/keys)" />}
      {created && (
        <div className="state ok new-key" role="status">
          <p>
            Key <strong>{created.name}</strong> ({created.role}) created. Copy it now: it is not shown again.
          </p>
          <p>
            <code data-testid="new-key">{created.key}</code> <CopyButton text={created.key} what="API key" />
          </p>
          <button type="button" className="linkish" onClick={() => setCreated(null)}>
            Done
          </button>
        </div>
      )}

      {revoking && (
        <Confirm confirmLabel="Revoke the key" danger busy={revoke.isPending} onCancel={() => setRevoking(null)} onConfirm={() => revoke.mutate(revoking.id)}>
          Revoke {revoking.name} ({revoking.prefix}…)? Every caller using it is refused within 10 s
          {revoking.id === me.caller ? ', and you are signed out: it is the key you are signed in with' : ''}.
        </Confirm>
      )}
      {revoke.isError && <ProblemNote error={revoke.error} what="Revoking a key (DELETE /api/keys/{id})" />}

      {keys.isPending ? (
        <Loading what="Loading keys" />
      ) : keys.isError && !keys.data ? (
        <ErrorState error={keys.error} retry={() => void keys.refetch()} />
      ) : keys.data.content.length === 0 ? (
        <Empty>No keys.</Empty>
      ) : (
        <div className="table-wrap">
          <table className="keys-table">
            <caption className="visually-hidden">API keys, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Prefix</th>
                <th scope="col">Role</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">Expires</th>
                <th scope="col">Status</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {keys.data.content.map((k) => (
                <tr key={k.id}>
                  <td title={k.id}>
                    {k.name}
                    {k.id === me.caller ? ' (you)' : ''}
                  </td>
                  <td>
                    <code>{k.prefix}…</code>
                  </td>
                  <td>{k.role}</td>
                  <td title={`by ${k.createdBy}`}>{fmtTime(k.createdAt)}</td>
                  <td>{k.lastUsedAt ? fmtTime(k.lastUsedAt) : 'never'}</td>
                  <td>{k.expiresAt ? fmtTime(k.expiresAt) : '—'}</td>
                  <td>{k.revokedAt ? `revoked ${fmtTime(k.revokedAt)}` : k.expiresAt && Date.parse(k.expiresAt) <= Date.now() ? 'expired' : 'active'}</td>
                  <td>
                    {!k.revokedAt && (
                      <button type="button" className="danger" onClick={() => setRevoking(k)} aria-label={`Revoke ${k.name}`}>
                        Revoke
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  )
}
