import { describe, expect, test } from 'bun:test'
import { CHUNK_MAX_CHARS, chunkText, chunkTextInSlices } from '../../../src/documents/chunk'
import {
  checkDocument,
  extractDocumentText,
  htmlText,
  mimeFromName,
  UnsupportedDocumentError,
} from '../../../src/documents/extract'
import { fuseRankings } from '../../../src/documents/search'
import { makePdf } from '../../support/documents'

describe('chunkText', () => {
  test('packs paragraphs up to the target and never cuts inside a short paragraph', () => {
    const paragraphs = Array.from({ length: 30 }, (_, i) => `Paragraph ${i} has a few words in it about topic ${i}.`)
    const chunks = chunkText(paragraphs.join('\n\n'))
    expect(chunks.length).toBeGreaterThan(1)
    expect(chunks.length).toBeLessThan(paragraphs.length)
    // Every paragraph is whole inside exactly one chunk, in order.
    const joined = chunks.join('\n\n')
    for (const p of paragraphs) expect(chunks.filter((c) => c.includes(p))).toHaveLength(1)
    expect(joined.indexOf(paragraphs[0])).toBeLessThan(joined.indexOf(paragraphs[29]))
  })

  test('a long paragraph is split at sentences, a giant word hard, all within the maximum', () => {
    const long = Array.from({ length: 100 }, (_, i) => `Sentence number ${i} is here.`).join(' ')
    const giant = 'x'.repeat(CHUNK_MAX_CHARS * 2 + 10)
    const chunks = chunkText(`${long}\n\n${giant}`)
    for (const c of chunks) expect(c.length).toBeLessThanOrEqual(CHUNK_MAX_CHARS)
    expect(chunks.some((c) => c.startsWith('Sentence number 0 is here.'))).toBe(true)
    expect(chunks.join('').replace(/[^x]/g, '').length).toBeGreaterThanOrEqual(giant.length)
  })

  test('chunkTextInSlices gives the same chunks for a short text, and keeps every paragraph of a long one', async () => {
    const short = Array.from({ length: 30 }, (_, i) => `Paragraph ${i} text.`).join('\n\n')
    expect(await chunkTextInSlices(short)).toEqual(chunkText(short))
    const paragraphs = Array.from({ length: 5000 }, (_, i) => `Paragraph number ${i} says something about item ${i}.`)
    const chunks = await chunkTextInSlices(paragraphs.join('\n\n'))
    for (const c of chunks) expect(c.length).toBeLessThanOrEqual(CHUNK_MAX_CHARS)
    expect(chunks.join('\n\n').split('\n\n')).toEqual(paragraphs)
  })

  test('empty or blank text gives no chunks', () => {
    expect(chunkText('')).toEqual([])
    expect(chunkText(' \n\n \t ')).toEqual([])
  })
})

describe('text extraction and type checks', () => {
  test('mimeFromName by extension, case-insensitively', () => {
    expect(mimeFromName('A.PDF')).toBe('application/pdf')
    expect(mimeFromName('notes.markdown')).toBe('text/markdown')
    expect(mimeFromName('page.htm')).toBe('text/html')
    expect(mimeFromName('data.csv')).toBeUndefined()
    expect(mimeFromName('pdf')).toBeUndefined()
  })

  test('htmlText keeps visible text, drops scripts/styles/comments, decodes entities, keeps blocks apart', () => {
    const text = htmlText(
      '<html><head><title>T</title><style>b{}</style></head><body><!-- hidden --><p>One &lt;b&gt; &amp; two</p><script>alert(1)</script><ul><li>a</li><li>b</li></ul><p>Caf&eacute;</p></body></html>',
    )
    expect(text).toBe('T\n\nOne <b> & two\n\na\n\nb\n\nCafé')
  })

  test('extraction turns CR and CRLF line ends into LF, also across the 1 MiB slices', async () => {
    const head = 'a'.repeat(1024 * 1024 - 1) // the first slice ends with the "\r" of a "\r\n"
    const { text } = await extractDocumentText(
      'text/plain',
      new TextEncoder().encode(`${head}\r\nline two\rline three\r\n`),
    )
    expect(text).toBe(`${head}\nline two\nline three\n`)
  })

  test('long HTML is parsed in slices to the same text', async () => {
    const html = `<title>T</title>${'<p>word &amp; word</p>'.repeat(30_000)}`
    const { text } = await extractDocumentText('text/html', new TextEncoder().encode(html))
    expect(text).toBe(htmlText(html))
    expect(text.split('\n\n')).toHaveLength(30_001)
  })

  test('checkDocument refuses mismatched content with unsupported_document', async () => {
    const enc = (s: string) => new TextEncoder().encode(s)
    expect(await checkDocument('a.txt', enc('hello'))).toBe('text/plain')
    expect(await checkDocument('a.html', enc('<p>hi</p>'))).toBe('text/html')
    expect(await checkDocument('a.pdf', await makePdf(['hello']))).toBe('application/pdf')
    for (const [name, bytes] of [
      ['a.pdf', enc('not a pdf')],
      ['a.txt', await makePdf(['x'])],
      ['a.txt', new Uint8Array([0xff, 0xfe, 0x00, 0x41])],
      ['a.md', new Uint8Array([0xc3, 0x28])], // invalid UTF-8
      ['a.html', enc('plain words')],
      ['a.txt', new Uint8Array()],
      ['a.docx', enc('x')],
    ] as const) {
      await expect(checkDocument(name, bytes as Uint8Array)).rejects.toBeInstanceOf(UnsupportedDocumentError)
    }
  })
})

describe('fuseRankings (reciprocal rank fusion)', () => {
  test('an id ranked well in both lists beats ids ranked first in only one', () => {
    const fused = fuseRankings([
      ['a', 'b', 'c'],
      ['d', 'b', 'e'],
    ])
    expect(fused[0].id).toBe('b')
    expect(fused.map((f) => f.id).sort()).toEqual(['a', 'b', 'c', 'd', 'e'])
    expect(fused[0].score).toBeCloseTo(2 / 62, 10)
  })

  test('one empty ranking leaves the other in order', () => {
    expect(fuseRankings([[], ['x', 'y']]).map((f) => f.id)).toEqual(['x', 'y'])
  })
})
