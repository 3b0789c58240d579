/**
 * The audit events of shares (PROTOCOL.md §5: `share_created`, `share_revoked`), handed to the
 * audit log by src/app.ts. They carry ids only — never the shared content.
 */
export type ShareAuditEvent = { action: 'share_created' | 'share_revoked'; actorId: string; targetId: string }

export type ShareAudit = (event: ShareAuditEvent) => void | Promise<void>
