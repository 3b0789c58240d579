import { describe, expect, test } from 'bun:test'
import { CitationLedger, resolveCitations, type CheckCitations } from '../../../src/agents/citations'
import { citationChecker, pickQuote, QUOTE_MAX_CHARS } from '../../../src/documents/citations'

const CHUNKS: Record<string, string> = {
  a: 'Giraffes are the tallest land animals. They eat acacia leaves.',
  b: 'The Nile is a long river. It flows north into the Mediterranean.',
  c: 'Kettles boil water.',
}

/** The real checker over an in-memory stand-in for the chunk lookup (ids → text). */
const check: CheckCitations = citationChecker({
  chunks: async (ids: string[]) =>
    ids
      .filter((id) => CHUNKS[id])
      .map((id) => ({ chunkId: id, documentId: `doc-${id}`, documentName: `${id}.txt`, text: CHUNKS[id] })),
})

describe('CitationLedger', () => {
  test('numbers passages in the order returned across calls; a passage returned again keeps its number', () => {
    const ledger = new CitationLedger()
    const first = ledger.number({ passages: [{ chunkId: 'a', text: 'x' }, { chunkId: 'b' }] }) as any
    const second = ledger.number({ passages: [{ chunkId: 'c' }, { chunkId: 'a' }] }) as any
    expect(first.passages.map((p: any) => p.n)).toEqual([1, 2])
    expect(second.passages.map((p: any) => p.n)).toEqual([3, 1])
    expect(ledger.size).toBe(3)
    expect(ledger.searched).toBe(true)
    // A passage cannot choose its own number.
    const third = ledger.number({ passages: [{ chunkId: 'z', n: 1 }] }) as any
    expect(third.passages[0].n).toBe(4)
  })

  test('a resumed run takes back the numbers it gave out; new passages continue after them', async () => {
    const ledger = new CitationLedger()
    ledger.restore({
      passages: [
        { chunkId: 'a', n: 1 },
        { chunkId: 'b', n: 2 },
      ],
    })
    expect(ledger.searched).toBe(true)
    expect([ledger.chunkOf(1), ledger.chunkOf(2)]).toEqual(['a', 'b'])
    const next = ledger.number({ passages: [{ chunkId: 'b' }, { chunkId: 'c' }] }) as any
    expect(next.passages.map((p: any) => p.n)).toEqual([2, 3])
    // A marker the model wrote before the crash still resolves to its passage.
    const check = async (requests: { n: number; chunkId: string; claim: string }[]) =>
      requests.map((r) => ({ n: r.n, documentId: 'd', documentName: 'doc.txt', chunkId: r.chunkId, quote: 'q' }))
    const { content, citations } = await resolveCitations('First fact [1]. Second [3].', ledger, check)
    expect(content).toBe('First fact [1]. Second [3].')
    expect(citations.map((c) => [c.n, c.chunkId])).toEqual([
      [1, 'a'],
      [3, 'c'],
    ])
  })

  test('results that are not passage lists pass through unchanged', () => {
    const ledger = new CitationLedger()
    expect(ledger.number({ error: 'x' })).toEqual({ error: 'x' })
    expect(ledger.size).toBe(0)
  })
})

describe('resolveCitations', () => {
  const ledgerWith = (...chunks: string[]) => {
    const ledger = new CitationLedger()
    ledger.number({ passages: chunks.map((chunkId) => ({ chunkId })) })
    return ledger
  }

  test('keeps retrieved, checked numbers with a verbatim quote; removes the rest', async () => {
    const ledger = ledgerWith('a', 'b', 'gone')
    const { content, citations } = await resolveCitations(
      'Giraffes eat acacia leaves [1]. The Nile flows north [2][3]. Made up [4]. Mixed [1, 4].',
      ledger,
      check,
    )
    expect(content).toBe('Giraffes eat acacia leaves [1]. The Nile flows north [2]. Made up. Mixed [1].')
    expect(citations).toEqual([
      { n: 1, documentId: 'doc-a', documentName: 'a.txt', chunkId: 'a', quote: 'They eat acacia leaves.' },
      {
        n: 2,
        documentId: 'doc-b',
        documentName: 'b.txt',
        chunkId: 'b',
        quote: 'It flows north into the Mediterranean.',
      },
    ])
  })

  test('leaves links, array indexes and text without markers alone', async () => {
    const ledger = ledgerWith('a')
    const text = 'See [docs](http://x) and rows[0] and [a] and [1](http://y).'
    expect((await resolveCitations(text, ledger, check)).content).toBe(text)
  })

  test('a checker that fails keeps no citation', async () => {
    const failing: CheckCitations = async () => {
      throw new Error('db down')
    }
    expect(await resolveCitations('Fact [1].', ledgerWith('a'), failing)).toEqual({ content: 'Fact.', citations: [] })
  })
})

describe('pickQuote', () => {
  test('the sentence sharing most words with the claim, verbatim, at most 300 characters', () => {
    expect(pickQuote(CHUNKS.b, 'The Nile flows north')).toBe('It flows north into the Mediterranean.')
    expect(pickQuote(CHUNKS.b, 'How long is the river?')).toBe('The Nile is a long river.')
    const long = `${'word '.repeat(200)}end.`
    const quote = pickQuote(long, 'word')
    expect(quote.length).toBeLessThanOrEqual(QUOTE_MAX_CHARS)
    expect(long).toContain(quote)
  })
})
