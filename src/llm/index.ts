import { Elysia } from 'elysia'
import type { AuthGuard } from '../auth/guard'
import { OllamaHost, unavailableMessage, type ChatRequest, type LlmProvider } from './provider'
import { ServiceUnavailableError } from '../http/errors'

/**
 * The model provider over one or more Ollama hosts: each call goes to the least-loaded host.
 */
export function createOllamaProvider(hosts: string[]): LlmProvider & { hosts: OllamaHost[] } {
  const pool = hosts.map((h) => new OllamaHost(h))
  const pick = () => pool.reduce((best, h) => (h.inFlight < best.inFlight ? h : best), pool[0])

  return {
    hosts: pool,
    describeHosts: () => hosts.join(', '),
    chat: (request: ChatRequest) => pick().chat(request),
    complete: (request) => pick().complete(request),
    async listModels() {
      const lists = await Promise.allSettled(pool.map((h) => h.listModels()))
      const ok = lists.filter((l): l is PromiseFulfilledResult<string[]> => l.status === 'fulfilled')
      if (ok.length === 0) throw (lists[0] as PromiseRejectedResult).reason
      return [...new Set(ok.flatMap((l) => l.value))].sort()
    },
    supportsThinking: (model) => pick().supportsThinking(model),
    async status() {
      const hostStatus = await Promise.all(pool.map(async (h) => ({ host: h.host, reachable: await h.ping() })))
      return { reachable: hostStatus.some((h) => h.reachable), hosts: hostStatus }
    },
  }
}

/** GET /api/models → {models, default}. */
export function modelRoutes(llm: LlmProvider, defaultModel: string, guard: AuthGuard) {
  return new Elysia({ name: 'model-routes' }).use(guard).get(
    '/api/models',
    async () => {
      try {
        return { models: await llm.listModels(), default: defaultModel }
      } catch {
        throw new ServiceUnavailableError('llm_unavailable', unavailableMessage(llm.describeHosts(), defaultModel))
      }
    },
    { auth: true },
  )
}
