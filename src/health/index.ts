import { Elysia } from 'elysia'
import type { Database } from '../db/client'

/** What one dependency adds to /ready: a verdict anyone may see, and detail for admins only. */
export interface Readiness {
  /** e.g. `{ ollama: 'reachable' }`: whether something works, never where it runs. */
  summary: Record<string, unknown>
  /** e.g. Ollama's hosts, circuits and queue, the cluster node id: operators' business. */
  detail?: Record<string, unknown>
}

/** Extra facts for /ready (Ollama reachability, circuit state…), filled by later features. */
export type ReadinessProbe = () => Promise<Readiness>

export interface HealthOptions {
  /** Whether the caller may see the detail (an admin's bearer token). */
  showsDetail?: (request: Request) => Promise<boolean>
}

/**
 * /health (liveness) and /ready (database answers; says whether Ollama does). An anonymous
 * caller learns only whether the server is ready and the model reachable; internal addresses,
 * circuits and queues are for admins (PROTOCOL.md §5 "Abuse limits").
 */
export function healthRoutes(database: Database, probes: ReadinessProbe[] = [], options: HealthOptions = {}) {
  return new Elysia({ name: 'health' })
    .get('/health', () => ({ status: 'ok' }))
    .get('/ready', async ({ request, set }) => {
      const [dbOk, results, detailed] = await Promise.all([
        database.ping(),
        Promise.all(probes.map((p) => p().catch((): Readiness => ({ summary: {} })))),
        options.showsDetail?.(request).catch(() => false) ?? false,
      ])
      set.status = dbOk ? 200 : 503
      const facts = results.map((r) => ({ ...r.summary, ...(detailed && r.detail) }))
      return {
        status: dbOk ? 'ready' : 'unavailable',
        database: dbOk ? 'ok' : 'unreachable',
        ...Object.assign({}, ...facts),
      }
    })
}
