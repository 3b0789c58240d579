/** The admin, usage and account routes of PROTOCOL.md §5, on top of the shared Api client. */
import type { Api } from './api'
import type { SessionManager } from './session'
import type { AuditEventView } from '../../protocol'

export interface UsageRow {
  day: string
  model: string
  runs: number
  promptTokens: number
  completionTokens: number
}
export interface Quota {
  runsPerDay: number
  tokensPerDay: number
  runsUsed: number
  tokensUsed: number
  resetsAt: string | null
}
export interface AdminUser {
  id: string
  email: string
  name: string
  role: 'admin' | 'member'
  disabled: boolean
  createdAt: string
  lastActiveAt: string | null
  quota: { runsPerDay: number | null; tokensPerDay: number | null } | null
}
export type AuditEvent = AuditEventView
export interface StatusSnapshot {
  at: string
  runsActive: number
  queueDepth: number
  hosts: { host: string; state: string }[]
  lastHour: { runsFinished: number; failureRate: number | null; firstTokenSeconds: number | null }
  series: {
    at: string
    runsActive: number
    queueDepth: number
    firstTokenSeconds: number | null
    failureRate: number | null
  }[]
  alerts: { at: string; alert: string; outcome: string }[]
}
export type Page<K extends string, T> = { [key in K]: T[] } & { nextCursor: string | null }

const qs = (params: Record<string, string | number | undefined | null>) => {
  const entries = Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== '')
  return entries.length ? `?${new URLSearchParams(entries.map(([k, v]) => [k, String(v)]))}` : ''
}
const id = encodeURIComponent

export function teamsApi(api: Api, session: SessionManager) {
  return {
    usage: (from?: string, to?: string) =>
      api.request<{ usage: UsageRow[]; quota: Quota }>(`/api/usage${qs({ from, to })}`),
    changePassword: (currentPassword: string, newPassword: string) =>
      api.request<void>('/api/me/password', {
        body: { currentPassword, newPassword, refreshToken: session.session?.refreshToken },
      }),
    deleteAccount: (password: string) => api.request<void>('/api/me', { method: 'DELETE', body: { password } }),
    /** The export as a Blob (an authenticated download; the page then saves it). */
    async exportBlob(): Promise<{ blob: Blob; filename: string }> {
      const token = await session.freshToken()
      const res = await fetch('/api/me/export', { headers: token ? { authorization: `Bearer ${token}` } : {} })
      if (!res.ok) throw new Error(`export failed (${res.status})`)
      const filename =
        /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? 'chat-export.json'
      return { blob: await res.blob(), filename }
    },

    users: (cursor?: string | null, limit = 50) =>
      api.request<Page<'users', AdminUser>>(`/api/admin/users${qs({ limit, cursor })}`),
    createUser: (input: { email: string; password: string; name?: string; role?: string }) =>
      api.request<{ user: AdminUser }>('/api/admin/users', { body: input }),
    updateUser: (userId: string, patch: Record<string, unknown>) =>
      api.request<{ user: AdminUser }>(`/api/admin/users/${id(userId)}`, { method: 'PATCH', body: patch }),
    signOutUser: (userId: string) => api.request<void>(`/api/admin/users/${id(userId)}/sign-out`, { method: 'POST' }),
    allUsage: (q: { from?: string; to?: string; userId?: string; cursor?: string | null }) =>
      api.request<Page<'usage', UsageRow & { userId: string }>>(`/api/admin/usage${qs({ ...q, limit: 200 })}`),
    audit: (q: { actorId?: string; action?: string; cursor?: string | null }) =>
      api.request<Page<'events', AuditEvent>>(`/api/admin/audit${qs({ ...q, limit: 50 })}`),
    status: () => api.request<StatusSnapshot>('/api/admin/status'),
  }
}

export type TeamsApi = ReturnType<typeof teamsApi>

/** Saves a Blob under a file name (an object URL clicked by a temporary link). */
export function saveBlob(blob: Blob, filename: string) {
  const url = URL.createObjectURL(blob)
  const a = document.createElement('a')
  a.href = url
  a.download = filename
  document.body.append(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 10_000)
}
