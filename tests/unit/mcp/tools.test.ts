/** Which tools /mcp offers: the §7 list, filtered by what the dispatcher has registered. */
import { describe, expect, test } from 'bun:test'
import { Type } from '@sinclair/typebox'
import { createToolDispatcher } from '../../../src/tools/dispatcher'
import { calculateTool } from '../../../src/tools/builtin/calculate'
import { defineTool } from '../../../src/tools/builtin/define'
import { MCP_TOOL_NAMES, mcpTools } from '../../../src/mcp/tools'

const tool = (name: string) =>
  defineTool({
    name,
    description: `the ${name} tool`,
    parameters: Type.Object({ query: Type.String() }),
    execute: async () => ({}),
  })

describe('mcpTools', () => {
  test('a listed tool appears once it is registered (search_documents needs no change here)', () => {
    const without = createToolDispatcher([calculateTool], { timeoutMs: 1000 })
    expect(mcpTools(without).map((t) => t.name)).toEqual(['calculate'])
    const withDocs = createToolDispatcher([calculateTool, tool('search_documents')], { timeoutMs: 1000 })
    const offered = mcpTools(withDocs)
    expect(offered.map((t) => t.name)).toEqual(['calculate', 'search_documents'])
    expect(offered[1]).toEqual({
      name: 'search_documents',
      description: 'the search_documents tool',
      inputSchema: expect.objectContaining({ type: 'object', required: ['query'] }),
    })
  })

  test('registered tools outside the list (transfers, internal ones) are never offered', () => {
    const dispatcher = createToolDispatcher([calculateTool, tool('transfer_to_planner'), tool('internal_admin_tool')], {
      timeoutMs: 1000,
    })
    expect(mcpTools(dispatcher).map((t) => t.name)).toEqual(['calculate'])
    expect(MCP_TOOL_NAMES.some((n) => n.startsWith('transfer_'))).toBe(false)
  })
})
