import { Elysia } from 'elysia'
import type { AuthGuard } from '../auth/guard'
import type { RunsRepository } from '../db/repositories/runs'
import type { RunManager } from './service'
import { eventsQuery, runParams } from './model'

const EVENTS_PAGE = 1000

/** GET /api/runs/:runId and the HTTP fallback delivery GET /api/runs/:runId/events?after=N. */
export function runRoutes(runs: RunManager, repo: RunsRepository, guard: AuthGuard) {
  return new Elysia({ name: 'run-routes' })
    .use(guard)
    .get('/api/runs/:runId', async ({ params }) => ({ run: await repo.get(params.runId) }), {
      auth: true,
      params: runParams,
    })
    .get(
      '/api/runs/:runId/events',
      async ({ params, query }) => {
        // At most 1,000 a page (PROTOCOL.md §2): a long run is never read whole for one answer.
        const { entries, done } = await runs.eventsAfter(params.runId, Math.floor(query.after ?? 0), EVENTS_PAGE)
        return { events: entries.map((e) => e.event), done }
      },
      { auth: true, params: runParams, query: eventsQuery },
    )
}
