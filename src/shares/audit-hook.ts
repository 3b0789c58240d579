/**
 * Where share events reach the audit log (PROTOCOL.md §5: `share_created`, `share_revoked`).
 * The audit module lives elsewhere; until it is wired in here this does nothing. It receives
 * ids only — never the shared content.
 */
export type ShareAuditEvent = { action: 'share_created' | 'share_revoked'; actorId: string; targetId: string }

export let recordShareAudit: (event: ShareAuditEvent) => void | Promise<void> = () => {}

/** Lets the composition root connect the audit module. */
export function setShareAuditHook(hook: typeof recordShareAudit) {
  recordShareAudit = hook
}
