/**
 * The audit events of API keys and MCP (PROTOCOL.md §5 "Audit"). The audit module (src/audit)
 * is built elsewhere: wire it here, in this one function, when it lands. Events never hold a
 * secret, arguments or results.
 */
export type ApiAuditEvent =
  | { action: 'api_key_created'; actorId: string; targetId: string }
  | { action: 'api_key_revoked'; actorId: string; targetId: string }
  | { action: 'mcp_tool_called'; actorId: string; detail: { tool: string; keyId: string } }

export function auditHook(_event: ApiAuditEvent): void {
  // No-op until src/audit exists.
}
