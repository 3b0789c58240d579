/** The audit log as the admin API answers it (PROTOCOL.md §5). */

/** Every action the audit log knows, in the order the admin's filter lists them. */
export const AUDIT_ACTIONS = [
  'login',
  'login_failed',
  'logout',
  'refresh_reused',
  'user_created',
  'user_updated',
  'user_signed_out',
  'password_changed',
  'account_deleted',
  'data_exported',
  'api_key_created',
  'api_key_revoked',
  'share_created',
  'share_revoked',
  'mcp_tool_called',
] as const
export type AuditAction = (typeof AUDIT_ACTIONS)[number]

/** Small non-content facts of an event: a new role, a tool's name. */
export type AuditDetail = Record<string, string | number | boolean | null>

export interface AuditEventView {
  id: string
  at: string
  actorId: string | null
  action: string
  targetId?: string
  ip?: string
  detail?: AuditDetail
}
