import type { Citation } from '../db/schema'
import type { DocumentsRepository } from '../db/repositories/documents'

/** Longest quote a citation carries (PROTOCOL.md §8). */
export const QUOTE_MAX_CHARS = 300

/** A number the answer used, the chunk it was given to, and the answer's sentence that cites it. */
export interface CitationRequest {
  n: number
  chunkId: string
  claim: string
}

/** Words too common to tell sentences apart. */
const COMMON = new Set([
  'the',
  'and',
  'for',
  'are',
  'was',
  'were',
  'with',
  'that',
  'this',
  'from',
  'into',
  'its',
  'has',
  'have',
  'not',
  'but',
  'you',
  'your',
])
const words = (text: string) =>
  new Set((text.toLowerCase().match(/[\p{L}\p{N}]{3,}/gu) ?? []).filter((w) => !COMMON.has(w)))

/** Sentences (or lines) of a chunk, as [start, end) offsets into it, so a quote is always verbatim. */
function sentenceSpans(text: string): [number, number][] {
  const spans: [number, number][] = []
  const pattern = /[^.!?\n]+(?:[.!?]+|$)/g
  for (const m of text.matchAll(pattern)) {
    const lead = m[0].length - m[0].trimStart().length
    const body = m[0].trim()
    if (body) spans.push([m.index! + lead, m.index! + lead + body.length])
  }
  return spans
}

/**
 * The server's quote for a citation: the chunk's sentence sharing most words with the claim
 * (the first on a tie), cut to 300 characters at a word boundary. Always a substring of `chunk`.
 */
export function pickQuote(chunk: string, claim: string): string {
  const wanted = words(claim)
  let best: [number, number] | undefined
  let bestScore = -1
  for (const span of sentenceSpans(chunk)) {
    const sentence = words(chunk.slice(span[0], span[1]))
    let score = 0
    for (const w of sentence) if (wanted.has(w)) score++
    if (score > bestScore) {
      best = span
      bestScore = score
    }
  }
  const [start, end] = best ?? [0, chunk.length]
  let quote = chunk.slice(start, end)
  if (quote.length > QUOTE_MAX_CHARS) {
    const cut = quote.slice(0, QUOTE_MAX_CHARS)
    const space = cut.lastIndexOf(' ')
    quote = (space > QUOTE_MAX_CHARS / 2 ? cut.slice(0, space) : cut).trimEnd()
  }
  return quote
}

/**
 * Checks citations against the store: a chunk counts only when it is still the active user's
 * (re-read inside the user filter), and its quote is chosen here and verified to occur in it.
 * Requests that fail the check are left out.
 */
export function citationChecker(documents: Pick<DocumentsRepository, 'chunks'>) {
  return async (requests: CitationRequest[]): Promise<Citation[]> => {
    const chunks = new Map(
      (await documents.chunks([...new Set(requests.map((r) => r.chunkId))])).map((c) => [c.chunkId, c]),
    )
    const citations: Citation[] = []
    for (const request of requests) {
      const chunk = chunks.get(request.chunkId)
      if (!chunk) continue
      const quote = pickQuote(chunk.text, request.claim)
      if (!quote || quote.length > QUOTE_MAX_CHARS || !chunk.text.includes(quote)) continue
      citations.push({
        n: request.n,
        documentId: chunk.documentId,
        documentName: chunk.documentName,
        chunkId: chunk.chunkId,
        quote,
      })
    }
    return citations
  }
}

export type CitationCheck = ReturnType<typeof citationChecker>
