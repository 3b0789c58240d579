/** The import reader (src/threads/import.ts) and the search marker stripping, as pure functions. */
import { describe, expect, test } from 'bun:test'
import { IMPORT_MAX_MESSAGES, InvalidImportError, readImport } from '../../../src/threads/import'
import { searchQuery, stripMarkers } from '../../../src/db/repositories/search'

const node = (id: string, parent: string | null, children: string[], message: unknown = null) => ({
  id,
  parent,
  children,
  message,
})
const msg = (role: string, text: string, t: number, extra: Record<string, unknown> = {}) => ({
  author: { role },
  create_time: t,
  content: { content_type: 'text', parts: [text] },
  ...extra,
})

describe('readImport: ChatGPT', () => {
  test('dropped nodes hand their children to the nearest kept ancestor; current_node picks the default branch', () => {
    const [thread] = readImport([
      {
        title: '  Two   words ',
        create_time: 100,
        mapping: {
          root: node('root', null, ['sys']),
          sys: node('sys', 'root', ['q'], msg('system', '', 100)),
          q: node('q', 'sys', ['a1', 'a2'], msg('user', 'question', 101)),
          a1: node('a1', 'q', [], msg('assistant', 'first answer', 102)),
          a2: node('a2', 'q', ['tool'], msg('assistant', 'call', 103, { recipient: 'python' })),
          tool: node('tool', 'a2', ['a3'], msg('tool', 'output', 104)),
          a3: node('a3', 'tool', [], msg('assistant', 'second answer', 105)),
        },
        current_node: 'a3',
      },
    ])
    expect(thread.title).toBe('Two words')
    expect(thread.messages.map((m) => [m.key, m.parentKey])).toEqual([
      ['q', null],
      ['a1', 'q'],
      ['a3', 'q'],
    ])
    expect(thread.leafKey).toBe('a3')
    expect(thread.createdAt).toBe(100_000)
    expect(thread.messages[0].createdAt).toBe(101_000)
  })

  test('a current_node that was dropped falls back to its kept ancestor; a missing title is "Imported chat"', () => {
    const [thread] = readImport([
      {
        mapping: {
          q: node('q', null, ['h'], msg('user', 'hi', 1)),
          h: node('h', 'q', [], msg('assistant', 'x', 2, { metadata: { is_visually_hidden_from_conversation: true } })),
        },
        current_node: 'h',
      },
    ])
    expect(thread.title).toBe('Imported chat')
    expect(thread.leafKey).toBe('q')
  })

  test('loops and wrong shapes are refused with where and what', () => {
    const loop = [
      { mapping: { a: node('a', 'b', [], msg('user', 'a', 1)), b: node('b', 'a', [], msg('assistant', 'b', 2)) } },
    ]
    expect(() => readImport(loop)).toThrow(/loop/)
    expect(() => readImport([{ mapping: { a: { message: { author: {} } } } }])).toThrow(InvalidImportError)
    expect(() => readImport([{ mapping: { a: { message: { author: {} } } } }])).toThrow(/\/0\/mapping\/a\/message/)
    expect(() => readImport(42)).toThrow(/expected a thread export/)
  })
})

/**
 * A chain c0 ← c1 ← … of `depth` nodes without messages, with a question kept at c{depth/2},
 * and `leaves` questions hanging under the last node of the chain; current_node is that node.
 */
function deepChain(depth: number, leaves: number) {
  const mapping: Record<string, unknown> = {}
  const mid = depth / 2
  for (let i = 0; i < depth; i++)
    mapping[`c${i}`] = node(`c${i}`, i ? `c${i - 1}` : null, [], i === mid ? msg('user', 'halfway', 1) : null)
  for (let i = 0; i < leaves; i++)
    mapping[`m${i}`] = node(`m${i}`, `c${depth - 1}`, [], msg('user', `leaf ${i}`, 2 + i))
  return { mapping, current_node: `c${depth - 1}`, mid: `c${mid}` }
}

describe('readImport: times', () => {
  test('a ChatGPT time outside the years 0000–9999 is refused; a missing one falls back', () => {
    const one = (conversation: Record<string, unknown>, createTime?: number) => [
      { ...conversation, mapping: { q: node('q', null, [], { ...msg('user', 'q', 0), create_time: createTime }) } },
    ]
    expect(() => readImport(one({}, 1e300))).toThrow(
      /^\/0\/mapping\/q\/message\/create_time: 1e\+300 is not a date between 0000-01-01 and 9999-12-31$/,
    )
    expect(() => readImport(one({ create_time: 253402300800 }, 1))).toThrow(/^\/0\/create_time: /)
    expect(() => readImport(one({ update_time: -62167219201 }, 1))).toThrow(/^\/0\/update_time: /)
    expect(readImport(one({}, 253402300799.999))[0].messages[0].createdAt).toBe(Date.parse('9999-12-31T23:59:59.999Z'))
    expect(readImport(one({}, -62167219200))[0].messages[0].createdAt).toBe(Date.parse('0000-01-01T00:00:00.000Z'))
    // Without its own time a message takes the conversation's, and without that the import's.
    expect(readImport(one({ create_time: 5 }))[0].messages[0].createdAt).toBe(5_000)
    const before = Date.now()
    const [thread] = readImport(one({}))
    expect(thread.messages[0].createdAt).toBeGreaterThanOrEqual(before)
    expect(thread.messages[0].createdAt).toBeLessThanOrEqual(Date.now())
    expect(thread.createdAt).toBe(thread.messages[0].createdAt)
  })

  test('a time of ours outside the years 0000–9999, not in ISO form or not a real day is refused, wherever it is', () => {
    const doc = (createdAt: string, messageAt: string, updatedAt?: string) => ({
      thread: { title: 'T', createdAt, ...(updatedAt && { updatedAt }) },
      messages: [{ id: 'q', parentId: null, role: 'user', content: 'q', createdAt: messageAt }],
    })
    const ok = '2026-01-01T00:00:00.000Z'
    expect(() => readImport(doc('+275760-09-13T00:00:00.000Z', ok))).toThrow(/^\/thread\/createdAt: .* is not a date/)
    expect(() => readImport(doc(ok, '+010000-01-01T00:00:00.000Z'))).toThrow(/^\/messages\/0\/createdAt: /)
    expect(() => readImport(doc(ok, ok, '-000001-12-31T23:59:59.999Z'))).toThrow(/^\/thread\/updatedAt: /)
    expect(() => readImport({ threads: [doc(ok, ok), doc(ok, '10000-01-01')] })).toThrow(/^\/threads\/1\/messages\/0\//)
    // Only the ISO form, and only real days and times: Date.parse would read these (or roll them over).
    for (const bad of ['2026-02-30T00:00:00.000Z', '2026-02-29', '2025-04-31', 'March 3, 2026', '2026-01-01T24:00:00Z'])
      expect(() => readImport(doc(ok, bad))).toThrow(/^\/messages\/0\/createdAt: .* is not a date/)
    for (const good of ['2024-02-29', '2026-01-01T10:30Z', '2026-01-01T10:30:15.123456+02:00', '0099-12-31T00:00:00Z'])
      expect(readImport(doc(ok, good))[0].messages[0].createdAt).toBe(Date.parse(good))
    const [edges] = readImport(doc('0000-01-01T00:00:00.000Z', '9999-12-31T23:59:59.999Z'))
    expect([edges.createdAt, edges.messages[0].createdAt, edges.updatedAt]).toEqual([
      Date.parse('0000-01-01T00:00:00.000Z'),
      Date.parse('9999-12-31T23:59:59.999Z'),
      Date.parse('9999-12-31T23:59:59.999Z'),
    ])
  })
})

describe('readImport: ChatGPT at scale', () => {
  test('a chain 200,000 nodes deep: every leaf hangs under the one kept node above it', () => {
    const { mapping, current_node, mid } = deepChain(200_000, 3_000)
    const [thread] = readImport([{ title: 'deep', mapping, current_node }])
    expect(thread.messages.length).toBe(3_001)
    expect(thread.messages[0]).toMatchObject({ key: mid, parentKey: null, content: 'halfway' })
    expect(thread.messages.slice(1).every((m, i) => m.key === `m${i}` && m.parentKey === mid)).toBe(true)
    expect(thread.leafKey).toBe(mid) // current_node has no message: its nearest kept ancestor
  })

  test('each node of the mapping is read a bounded number of times, however deep the chain', () => {
    // Counted, not timed: walking the chain again for every message reads it depth × leaves times.
    const { mapping, current_node } = deepChain(4_000, 2_000)
    let reads = 0
    const counted = new Proxy(mapping, {
      get(target, key, receiver) {
        if (typeof key === 'string' && Object.hasOwn(target, key)) reads++
        return Reflect.get(target, key, receiver)
      },
    })
    const [thread] = readImport([{ mapping: counted, current_node }])
    expect(thread.messages.length).toBe(2_001)
    expect(reads).toBeLessThanOrEqual(4 * Object.keys(mapping).length)
  })

  test('parent links that loop anywhere in the mapping are refused, kept messages or not', () => {
    const loops = [
      // Through empty nodes above a kept message.
      { q: node('q', 'e1', [], msg('user', 'q', 1)), e1: node('e1', 'e2', []), e2: node('e2', 'e1', []) },
      // Through kept messages only.
      { a: node('a', 'b', [], msg('user', 'a', 1)), b: node('b', 'a', [], msg('assistant', 'b', 2)) },
      // A node its own parent, reached from nothing kept.
      { q: node('q', null, [], msg('user', 'q', 1)), self: node('self', 'self', []) },
    ]
    for (const mapping of loops)
      expect(() => readImport([{ mapping: { ok: node('ok', null, []) } }, { mapping }])).toThrow(
        /^\/1\/mapping: the parent links form a loop$/,
      )
  })

  test('more than IMPORT_MAX_MESSAGES messages over all conversations is refused', () => {
    const half = (from: number) => {
      const mapping: Record<string, unknown> = {}
      for (let i = from; i < from + IMPORT_MAX_MESSAGES / 2 + 1; i++)
        mapping[`m${i}`] = node(`m${i}`, null, [], msg('user', 'x', i))
      return { mapping }
    }
    expect(() => readImport([half(0)])).not.toThrow()
    expect(() => readImport([half(0), half(IMPORT_MAX_MESSAGES)])).toThrow(/at most 200000 messages/)
  })
})

describe('readImport: ours', () => {
  test('keeps the tree, outcomes and the current leaf', () => {
    const [thread] = readImport({
      thread: { title: 'T', createdAt: '2026-01-01T00:00:00.000Z', currentLeafId: 'b' },
      messages: [
        { id: 'q', parentId: null, role: 'user', content: 'q', createdAt: '2026-01-01T00:00:01.000Z' },
        {
          id: 'a',
          parentId: 'q',
          role: 'assistant',
          content: 'partial',
          status: 'cancelled',
          error: { code: 'cancelled', message: 'stopped' },
          createdAt: '2026-01-01T00:00:02.000Z',
        },
        { id: 'b', parentId: 'q', role: 'assistant', content: 'full', createdAt: '2026-01-01T00:00:03.000Z' },
      ],
    })
    expect(thread.leafKey).toBe('b')
    expect(thread.messages[1]).toMatchObject({ status: 'cancelled', error: { code: 'cancelled' } })
    expect(thread.messages[2].status).toBe('completed')
    expect(() => readImport({ thread: { title: 'T', createdAt: 'not-a-date-at-all' }, messages: [] })).toThrow(
      /not a date/,
    )
  })
})

describe('readImport: citations', () => {
  test("an answer's citations come along with their own fields only; a malformed one is refused", () => {
    const cite = { n: 1, documentId: 'd', documentName: 'manual.pdf', chunkId: 'c', quote: 'wait.' }
    const doc = (citations: unknown) => ({
      thread: { title: 'T', createdAt: '2026-01-01T00:00:00.000Z' },
      messages: [
        { id: 'q', parentId: null, role: 'user', content: 'q', createdAt: '2026-01-01T00:00:01.000Z' },
        {
          id: 'a',
          parentId: 'q',
          role: 'assistant',
          content: 'a [1]',
          citations,
          createdAt: '2026-01-01T00:00:02.000Z',
        },
      ],
    })
    const [thread] = readImport(doc([{ ...cite, extra: 'dropped' }]))
    expect(thread.messages[1].citations).toEqual([cite])
    expect(thread.messages[0].citations).toBeUndefined()
    expect(() => readImport(doc([{ ...cite, n: 'one' }]))).toThrow(
      /not a thread export: \/messages\/1\/citations\/0\/n/,
    )
  })
})

describe('search helpers', () => {
  test('markers become highlight ranges; queries are quoted words, the last a prefix', () => {
    expect(stripMarkers('a \uE000bc\uE001 d \uE000e\uE001')).toEqual({
      text: 'a bc d e',
      highlights: [
        [2, 4],
        [7, 8],
      ],
    })
    expect(searchQuery('Hello, "world" OR x*')).toBe('"hello" "world" "or" "x"*')
    expect(searchQuery('!!!')).toBeUndefined()
  })
})
