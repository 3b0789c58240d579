import { Server } from '@modelcontextprotocol/sdk/server/index.js'
import { CallToolRequestSchema, ListToolsRequestSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import type { UserContext } from '../context/user-context'
import type { ToolDispatcher } from '../tools/types'
import type { ApiAudit } from '../auth/api-keys/audit-hook'
import { MCP_TOOL_NAMES, mcpTools } from './tools'

const SERVER_INFO = { name: 'local-chat-server', version: '0.1.0' }

/**
 * One MCP server for one request of one key's user (stateless Streamable HTTP: nothing is kept
 * between requests). Every call goes through the tool dispatcher inside that user's context, so
 * validation, timeout and isolation are the same as in a run.
 */
export function mcpServerFor(
  dispatcher: ToolDispatcher,
  user: { context: UserContext; keyId: string },
  auditHook: ApiAudit = () => {},
): Server {
  const server = new Server(SERVER_INFO, { capabilities: { tools: { listChanged: false } } })
  const offered = () => mcpTools(dispatcher)

  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: offered() }))

  server.setRequestHandler(CallToolRequestSchema, async (request, extra): Promise<CallToolResult> => {
    const name = request.params.name
    const allowed = offered().map((t) => t.name)
    if (allowed.includes(name))
      auditHook({ action: 'mcp_tool_called', actorId: user.context.userId, detail: { tool: name, keyId: user.keyId } })
    const outcome = await user.context.run(() =>
      dispatcher.call(name, request.params.arguments ?? {}, {
        signal: extra.signal,
        allowed: allowed.length ? allowed : [...MCP_TOOL_NAMES],
      }),
    )
    if (!outcome.ok)
      return { isError: true, content: [{ type: 'text', text: JSON.stringify({ error: outcome.error }) }] }
    const result = outcome.result
    const structured =
      result && typeof result === 'object' && !Array.isArray(result)
        ? { structuredContent: result as Record<string, unknown> }
        : {}
    return { content: [{ type: 'text', text: JSON.stringify(result) }], ...structured }
  })
  return server
}
