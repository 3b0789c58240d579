import { Elysia } from 'elysia'
import type { AuthGuard } from '../auth/guard'
import { listAgents, transferToolNames } from './definitions'

export * from './definitions'

/** GET /api/agents (PROTOCOL.md §2): the agents and the tools each can call (transfers included). */
export function agentRoutes(guard: AuthGuard) {
  const agents = listAgents().map((agent) => ({
    id: agent.id,
    name: agent.name,
    description: agent.description,
    tools: [...agent.tools, ...transferToolNames(agent)],
    ...(agent.handoffs?.length && { handoffs: [...agent.handoffs] }),
  }))
  return new Elysia({ name: 'agent-routes' }).use(guard).get('/api/agents', () => ({ agents }), { auth: true })
}
