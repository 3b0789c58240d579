import type { LlmProvider } from '../llm/provider'
import { EMBEDDING_DIMENSIONS } from '../db/schema'
import { LlmError } from '../llm/errors'

/** Turns texts into vectors for one user (who waits in the fair queue). */
export type Embedder = (texts: string[], opts: { signal: AbortSignal; userId: string }) => Promise<Float32Array[]>

/** Texts per /api/embed call during ingestion. */
export const EMBED_BATCH = 32

/**
 * The embedder over the model provider (Ollama `/api/embed`), so embeddings share the fair
 * queue and circuit breaker with chat calls. Vectors must have the column's 768 dimensions.
 */
export function providerEmbedder(llm: LlmProvider, model: string): Embedder {
  return async (texts, { signal, userId }) => {
    if (!llm.embed) throw new LlmError('llm_unavailable', 'the model provider cannot embed texts')
    const vectors = await llm.embed({ model, input: texts, signal, userId })
    return vectors.map((v) => {
      if (v.length !== EMBEDDING_DIMENSIONS) {
        throw new LlmError(
          'llm_error',
          `the embedding model "${model}" gives ${v.length} dimensions; documents need a ${EMBEDDING_DIMENSIONS}-dimension model such as nomic-embed-text (OLLAMA_EMBED_MODEL)`,
        )
      }
      return Float32Array.from(v)
    })
  }
}
