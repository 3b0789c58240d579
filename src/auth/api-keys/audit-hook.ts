/**
 * The audit events of API keys and MCP (PROTOCOL.md §5 "Audit"), handed to the audit log by
 * src/app.ts. Events never hold a secret, arguments or results.
 */
export type ApiAuditEvent =
  | { action: 'api_key_created'; actorId: string; targetId: string }
  | { action: 'api_key_revoked'; actorId: string; targetId: string }
  | { action: 'mcp_tool_called'; actorId: string; detail: { tool: string; keyId: string } }

/** Records one event; never throws (recording must not fail the action it describes). */
export type ApiAudit = (event: ApiAuditEvent) => void
