import { currentContext } from '../context/user-context'
import type { DocumentsRepository } from '../db/repositories/documents'
import { log } from '../log'
import type { Embedder } from './embedder'

export interface Passage {
  documentId: string
  documentName: string
  chunkId: string
  text: string
  score: number
}

export const SEARCH_DEFAULT_LIMIT = 5
export const SEARCH_MAX_LIMIT = 20
/** Candidates taken from each ranking before fusion. */
const CANDIDATES = 50
/** Reciprocal rank fusion's constant (Cormack et al.): dampens the weight of the very top ranks. */
const RRF_K = 60

/**
 * Reciprocal rank fusion: each list adds 1 / (k + rank) for every id it ranks; best first,
 * ties by the id's first appearance.
 */
export function fuseRankings(rankings: string[][], k = RRF_K): { id: string; score: number }[] {
  const scores = new Map<string, number>()
  for (const ranking of rankings)
    ranking.forEach((id, i) => {
      scores.set(id, (scores.get(id) ?? 0) + 1 / (k + i + 1))
    })
  return [...scores].map(([id, score]) => ({ id, score })).sort((a, b) => b.score - a.score)
}

/**
 * `search_documents`: the active user's chunks by meaning (vector distance over the user's own
 * rows) and by words (FTS5 within the user's rows), fused by rank. When the embedding model is
 * unreachable the keyword ranking alone answers.
 */
export function documentSearch(documents: DocumentsRepository, embedder: () => Embedder | undefined) {
  return async (query: string, limit = SEARCH_DEFAULT_LIMIT): Promise<Passage[]> => {
    const text = query.trim()
    if (!text) return []
    const context = currentContext()
    let byMeaning: string[] = []
    const embed = embedder()
    if (embed) {
      try {
        const [vector] = await embed([text], { signal: context.signal, userId: context.userId })
        byMeaning = (await documents.nearest(vector, CANDIDATES)).map((hit) => hit.chunkId)
      } catch (error) {
        if (context.signal.aborted) throw error
        log.warn('document search without vectors: the query could not be embedded', {
          error: String((error as Error)?.message ?? error),
        })
      }
    }
    const byWords = (await documents.keywordMatches(text, CANDIDATES)).map((hit) => hit.chunkId)
    const fused = fuseRankings([byMeaning, byWords]).slice(0, limit)
    const chunks = new Map((await documents.chunks(fused.map((f) => f.id))).map((c) => [c.chunkId, c]))
    return fused.flatMap(({ id, score }) => {
      const chunk = chunks.get(id)
      return chunk
        ? [
            {
              documentId: chunk.documentId,
              documentName: chunk.documentName,
              chunkId: chunk.chunkId,
              text: chunk.text,
              score: Number(score.toFixed(6)),
            },
          ]
        : []
    })
  }
}
