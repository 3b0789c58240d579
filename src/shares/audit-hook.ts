/**
 * The audit events of shares (PROTOCOL.md §5: `share_created`, `share_revoked`), handed to the
 * audit log by src/app.ts. They carry ids only — never the shared content, and never the share's
 * own id: that id is the link, so an admin reading the audit log could open the snapshot. The
 * target is the shared thread (an id nobody else can open).
 */
export type ShareAuditEvent = { action: 'share_created' | 'share_revoked'; actorId: string; targetId: string }

export type ShareAudit = (event: ShareAuditEvent) => void | Promise<void>
