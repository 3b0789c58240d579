import { Elysia } from 'elysia'
import type { Database } from '../db/client'

export interface ReadinessProbe {
  /** Extra facts for /ready (Ollama reachability, circuit state…), filled by later features. */
  (): Promise<Record<string, unknown>>
}

/** /health (liveness) and /ready (database answers; says whether Ollama does). */
export function healthRoutes(database: Database, probes: ReadinessProbe[] = []) {
  return new Elysia({ name: 'health' })
    .get('/health', () => ({ status: 'ok' }))
    .get('/ready', async ({ set }) => {
      const dbOk = await database.ping()
      const extra = Object.assign({}, ...(await Promise.all(probes.map((p) => p().catch(() => ({}))))))
      set.status = dbOk ? 200 : 503
      return { status: dbOk ? 'ready' : 'unavailable', database: dbOk ? 'ok' : 'unreachable', ...extra }
    })
}
