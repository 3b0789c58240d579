import { getAgent, listAgents } from '../agents/definitions'
import { AppError, ServiceUnavailableError } from '../http/errors'
import type { LlmProvider } from '../llm/provider'
import { unavailableMessage } from '../llm/errors'

export const AGENT_MODEL_PREFIX = 'agent:'

/** What a `model` of a request runs: an agent on a model. */
export interface ModelChoice {
  agent: string
  model: string
}

/**
 * The models /v1 offers (PROTOCOL.md §7): Ollama's, plus `agent:<id>` for each agent. Ollama's
 * list is kept for a few seconds so a busy client does not ask Ollama once per call.
 */
export function modelCatalog(
  llm: Pick<LlmProvider, 'listModels' | 'listChatModels' | 'describeHosts'>,
  defaultModel: string,
  opts: { cacheMs?: number } = {},
) {
  const cacheMs = opts.cacheMs ?? 5000
  let cached: { at: number; models: string[] } | undefined
  const created = Math.floor(Date.now() / 1000)

  async function ollamaModels(): Promise<string[]> {
    if (cached && performance.now() - cached.at < cacheMs) return cached.models
    try {
      const models = await (llm.listChatModels ? llm.listChatModels() : llm.listModels())
      cached = { at: performance.now(), models }
      return models
    } catch {
      throw new ServiceUnavailableError('llm_unavailable', unavailableMessage(llm.describeHosts(), defaultModel))
    }
  }

  /** Ollama names "llama3.2" and "llama3.2:latest" the same model. */
  const sameModel = (a: string, b: string) => a === b || `${a}:latest` === b || a === `${b}:latest`

  return {
    async list() {
      const models = await ollamaModels()
      return {
        object: 'list' as const,
        data: [
          ...models.map((id) => ({ id, object: 'model' as const, created, owned_by: 'ollama' })),
          ...listAgents().map((agent) => ({
            id: `${AGENT_MODEL_PREFIX}${agent.id}`,
            object: 'model' as const,
            created,
            owned_by: 'local-chat-server',
          })),
        ],
      }
    },

    /** `agent:<id>` → that agent on the default model; an Ollama model → triage on it; else 404. */
    async resolve(name: string): Promise<ModelChoice> {
      if (name.startsWith(AGENT_MODEL_PREFIX)) {
        const agent = getAgent(name.slice(AGENT_MODEL_PREFIX.length))
        if (!agent) throw new AppError(404, 'model_not_found', `there is no model "${name}"; GET /v1/models lists them`)
        return { agent: agent.id, model: defaultModel }
      }
      const found = (await ollamaModels()).find((m) => sameModel(m, name))
      if (!found)
        throw new AppError(
          404,
          'model_not_found',
          `the model "${name}" is not available; GET /v1/models lists them (pull others with \`ollama pull ${name}\`)`,
        )
      return { agent: 'triage', model: name }
    },
  }
}

export type ModelCatalog = ReturnType<typeof modelCatalog>
