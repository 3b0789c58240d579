import { BUILTIN_TOOL_NAMES } from '../tools'
import type { ToolDispatcher } from '../tools/types'

/**
 * The tools MCP clients may call (PROTOCOL.md §7): exactly these, never the transfers. A name
 * here is offered once a tool of that name is registered with the dispatcher, so a new tool
 * (search_documents) appears on /mcp by being registered, with no change here.
 */
export const MCP_TOOL_NAMES = BUILTIN_TOOL_NAMES

/** The MCP view of the registered tools: name, description and the JSON schema of §4. */
export function mcpTools(dispatcher: Pick<ToolDispatcher, 'specs'>) {
  return dispatcher.specs(MCP_TOOL_NAMES).map((spec) => ({
    name: spec.function.name,
    description: spec.function.description,
    inputSchema: spec.function.parameters as {
      type: 'object'
      properties?: Record<string, unknown>
      required?: string[]
    },
  }))
}
