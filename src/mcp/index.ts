import type { ApiAudit } from '../auth/api-keys/audit-hook'
import { Elysia } from 'elysia'
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js'
import type { ApiKeyGuard } from '../auth/api-keys/guard'
import type { ToolDispatcher } from '../tools/types'
import { asBatchAnswer, withoutSelfCancelled } from './batch'
import { mcpServerFor } from './server'

/** A JSON-RPC error answered as HTTP (no request id: it concerns the whole body). */
const rpcError = (status: number, code: number, message: string, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  })

const methodNotAllowed = () =>
  rpcError(405, -32000, 'this MCP server is stateless: POST JSON-RPC messages to /mcp', { allow: 'POST' })

const timedOut = () => rpcError(504, -32001, 'the request was not answered in time')

/**
 * POST /mcp: a Model Context Protocol server (Streamable HTTP, stateless, JSON answers) over
 * the user's own tools, for personal API keys (PROTOCOL.md §7). GET and DELETE answer 405, as
 * the transport allows for a server that opens no standalone streams and keeps no sessions.
 */
export function mcpRoutes(
  dispatcher: ToolDispatcher,
  guard: ApiKeyGuard,
  audit?: ApiAudit,
  opts: { answerWithinMs?: number } = {},
) {
  const answerWithinMs = opts.answerWithinMs ?? 60_000
  return new Elysia({ name: 'mcp-routes' })
    .use(guard)
    .post(
      '/mcp',
      async ({ body, request, apiUser }) => {
        // The body was already read (and checked to be JSON) by the app's parser.
        const messages = withoutSelfCancelled(body)
        if (Array.isArray(messages) && messages.length === 0) return new Response(null, { status: 202 })
        const server = mcpServerFor(dispatcher, apiUser, audit)
        const transport = new WebStandardStreamableHTTPServerTransport({
          sessionIdGenerator: undefined,
          enableJsonResponse: true,
        })
        await server.connect(transport)
        let timer: ReturnType<typeof setTimeout> | undefined
        try {
          // Every request is answered: should the SDK ever leave one without a response, the
          // body gets a JSON-RPC error instead of an open connection.
          const late = new Promise<Response>((resolve) => {
            timer = setTimeout(() => resolve(timedOut()), answerWithinMs)
          })
          const answer = await Promise.race([
            apiUser.context.run(() => transport.handleRequest(request, { parsedBody: messages })),
            late,
          ])
          return Array.isArray(messages) ? await asBatchAnswer(answer) : answer
        } finally {
          clearTimeout(timer)
          await server.close().catch(() => {})
        }
      },
      { apiKey: true },
    )
    .get('/mcp', methodNotAllowed, { apiKey: true })
    .delete('/mcp', methodNotAllowed, { apiKey: true })
}
