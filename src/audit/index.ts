import type { AuditRepository, AuditRow } from '../db/repositories/audit'
import { iso, newId } from '../db/scope'
import { log } from '../log'

import type { AuditAction, AuditDetail, AuditEventView } from '../protocol'

export type { AuditAction, AuditDetail, AuditEventView }

export interface AuditInput {
  /** Who did it: a user id, or null for the server itself / the shell (`bun run admin`). */
  actorId: string | null
  action: AuditAction
  /** What it was done to (a user, key or share id). */
  targetId?: string | null
  ip?: string | null
  /** Small non-content facts: a new role, a tool's name. Never text, passwords, tokens or keys. */
  detail?: AuditDetail
}

// Keys whose values are never stored, whatever a caller passes: a last line of defence.
const FORBIDDEN_KEY =
  /pass|secret|credential|^(access|refresh)?token$|^(api)?key$|^(content|body|text|message|title|name|query|args|arguments|result|csv|data)$/i
const MAX_VALUE_CHARS = 120

/** Keeps only short scalar values under harmless keys. */
export function cleanDetail(detail: AuditDetail | undefined): AuditDetail | null {
  if (!detail) return null
  const kept: AuditDetail = {}
  for (const [key, value] of Object.entries(detail)) {
    if (FORBIDDEN_KEY.test(key)) continue
    if (value === null || typeof value === 'number' || typeof value === 'boolean') kept[key] = value
    else if (typeof value === 'string') kept[key] = value.slice(0, MAX_VALUE_CHARS)
  }
  return Object.keys(kept).length ? kept : null
}

export const auditView = (row: AuditRow): AuditEventView => ({
  id: row.id,
  at: iso(row.at),
  actorId: row.actorId,
  action: row.action,
  ...(row.targetId && { targetId: row.targetId }),
  ...(row.ip && { ip: row.ip }),
  ...(row.detail && { detail: row.detail }),
})

/**
 * The audit log other features call: `audit.record({ actorId, action, targetId?, ip?, detail? })`.
 * Append-only and content-free. Recording never fails the action it describes: a failed
 * write is logged (without the detail) and swallowed.
 */
export function auditLog(repo: AuditRepository) {
  return {
    async record(input: AuditInput): Promise<void> {
      try {
        await repo.append({
          id: newId(),
          at: Date.now(),
          actorId: input.actorId,
          action: input.action,
          targetId: input.targetId ?? null,
          ip: input.ip ?? null,
          detail: cleanDetail(input.detail),
        })
      } catch (error) {
        log.error('could not record an audit event', { action: input.action, error: String(error) })
      }
    },

    async list(opts: {
      limit: number
      beforeId?: string
      actorId?: string
      action?: string
    }): Promise<AuditEventView[]> {
      return (await repo.list(opts)).map(auditView)
    },
  }
}

export type AuditLog = ReturnType<typeof auditLog>
