import type { Citation } from '../db/schema'

/** The tool whose passages are numbered for citations (PROTOCOL.md §8). */
export const CITED_TOOL = 'search_documents'

/** What the run loop needs to check citations (the documents feature provides it). */
export type CheckCitations = (requests: { n: number; chunkId: string; claim: string }[]) => Promise<Citation[]>

interface Numbered {
  n: number
  chunkId: string
}

/** `[3]` or `[1, 2]`, not a link (`[1](…)`) and not an index glued to a word (`rows[0]`). */
const MARKER = /([ \t]*)(?<![\p{L}\p{N}_])\[(\d{1,4}(?:\s*,\s*\d{1,4})*)\](?!\()/gu

/**
 * The numbers of one run's retrieved passages (PROTOCOL.md §8): every passage a
 * `search_documents` call returns gets the next number in the order returned, and a passage
 * returned again keeps its number.
 */
export class CitationLedger {
  readonly #byChunk = new Map<string, number>()
  readonly #byNumber = new Map<number, Numbered>()
  #searched = false

  get size() {
    return this.#byNumber.size
  }

  /** Whether the run retrieved from documents at all (its answer then always lists citations). */
  get searched() {
    return this.#searched
  }

  /** The tool result with `n` on every passage (what the model and the events see). */
  number(result: unknown): unknown {
    this.#searched = true
    const passages = (result as { passages?: unknown })?.passages
    if (!Array.isArray(passages)) return result
    const numbered = passages.map((p) => {
      const chunkId = (p as { chunkId?: unknown })?.chunkId
      if (typeof chunkId !== 'string') return p
      let n = this.#byChunk.get(chunkId)
      if (n === undefined) {
        n = this.#byNumber.size + 1
        this.#byChunk.set(chunkId, n)
        this.#byNumber.set(n, { n, chunkId })
      }
      return { ...(p as object), n }
    })
    return { ...(result as object), passages: numbered }
  }

  /**
   * Takes back the numbers a stored (already numbered) result gave out: a run resumed after a
   * crash keeps the numbers its model has seen, and later passages continue after them.
   */
  restore(result: unknown): void {
    this.#searched = true
    const passages = (result as { passages?: unknown })?.passages
    if (!Array.isArray(passages)) return
    for (const p of passages) {
      const { chunkId, n } = (p ?? {}) as { chunkId?: unknown; n?: unknown }
      if (typeof chunkId !== 'string' || !Number.isSafeInteger(n) || this.#byNumber.has(n as number)) continue
      if (this.#byChunk.has(chunkId)) continue
      this.#byChunk.set(chunkId, n as number)
      this.#byNumber.set(n as number, { n: n as number, chunkId })
    }
  }

  chunkOf(n: number): string | undefined {
    return this.#byNumber.get(n)?.chunkId
  }
}

/** The sentence around position `at` (what a marker there cites). */
function claimAt(text: string, at: number): string {
  const before = text.slice(0, at)
  const start =
    Math.max(before.lastIndexOf('. '), before.lastIndexOf('\n'), before.lastIndexOf('! '), before.lastIndexOf('? ')) + 1
  return text
    .slice(start, at)
    .replace(/\[[\d,\s]+\]/g, ' ')
    .trim()
}

/**
 * Rewrites an answer so every `[n]` marker it keeps names a passage this run retrieved and
 * the checker confirmed for this user; other markers are removed. Returns the citations used,
 * one per number, in number order.
 */
export async function resolveCitations(
  answer: string,
  ledger: CitationLedger,
  check: CheckCitations,
): Promise<{ content: string; citations: Citation[] }> {
  const requests = new Map<number, { n: number; chunkId: string; claim: string }>()
  for (const m of answer.matchAll(MARKER)) {
    for (const n of m[2].split(',').map((s) => Number(s.trim()))) {
      const chunkId = ledger.chunkOf(n)
      if (chunkId && !requests.has(n)) requests.set(n, { n, chunkId, claim: claimAt(answer, m.index!) })
    }
  }
  let verified: Citation[] = []
  if (requests.size > 0) {
    try {
      verified = await check([...requests.values()])
    } catch {
      verified = [] // unverifiable citations are not kept
    }
  }
  const kept = new Set(verified.map((c) => c.n))
  const content = answer.replace(MARKER, (_whole, space: string, list: string) => {
    const numbers = list
      .split(',')
      .map((s) => Number(s.trim()))
      .filter((n) => kept.has(n))
    return numbers.length === 0 ? '' : `${space}[${numbers.join(', ')}]`
  })
  return { content, citations: verified.sort((a, b) => a.n - b.n) }
}
