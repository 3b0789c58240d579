/**
 * Retrieval over the user's own rows (PROTOCOL.md §8): the vector ranking is a brute-force scan
 * of the user's chunks inside the query, so other users' chunks — here 50 other users holding
 * documents of the same vocabulary — neither leak in nor push the user's chunks out of the top 5.
 * The reference is computed here from the scripted embedder's own vectors.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { asUser } from '../../support/db'
import { startFakeOllama, fakeEmbedding, type FakeOllama } from '../../support/fake-ollama'
import { startTestServer, type TestServer } from '../../support/server'

setDefaultTimeout(120_000) // 51 users' documents are ingested for real

let ollama: FakeOllama
let server: TestServer

/** A small seeded generator, so the corpus and the queries are the same on every run. */
function prng(seed: number) {
  return () => {
    seed = (seed * 1664525 + 1013904223) >>> 0
    return seed / 2 ** 32
  }
}
const random = prng(20261201)
const SYLLABLES = [
  'ka',
  'lo',
  'mi',
  'ne',
  'ru',
  'sa',
  'ti',
  'vo',
  'zen',
  'dar',
  'pel',
  'qua',
  'bri',
  'fos',
  'gul',
  'hax',
]
const VOCABULARY = Array.from(
  { length: 400 },
  (_, i) => SYLLABLES[i % 16] + SYLLABLES[Math.floor(i / 16) % 16] + SYLLABLES[(i * 7) % 16],
)
const word = () => VOCABULARY[Math.floor(random() * VOCABULARY.length)]
const sentence = (n: number) => `${Array.from({ length: n }, word).join(' ')}.`
const documentText = (paragraphs: number) =>
  Array.from({ length: paragraphs }, () => Array.from({ length: 6 }, () => sentence(12)).join(' ')).join('\n\n')

/** A user row written straight through the repository (no password hashing: they only hold data). */
async function plantUser(name: string): Promise<string> {
  const row = await server.services.repos.users.create(
    { email: `${name}-${crypto.randomUUID()}@example.test`, name },
    true,
  )
  if (typeof row === 'string') throw new Error(`could not create ${name}: ${row}`)
  return row.id
}

let owner: string
const others: string[] = []

beforeAll(async () => {
  ollama = await startFakeOllama()
  server = await startTestServer({ OLLAMA_HOST: ollama.url })
  owner = await plantUser('owner')
  for (let i = 0; i < 50; i++) others.push(await plantUser(`other${i}`))
  const documents = server.services.documents
  for (let d = 0; d < 12; d++)
    await asUser(owner, () => documents.uploadText({ name: `own-${d}.txt`, text: documentText(4) }))
  for (const other of others)
    await asUser(other, () => documents.uploadText({ name: 'theirs.txt', text: documentText(6) }))
  await documents.ingest.idle()
})
afterAll(async () => {
  await server?.close()
  await ollama?.close()
})

const cosineDistance = (a: number[], b: number[]) => 1 - a.reduce((s, v, i) => s + v * b[i], 0) // unit vectors

describe('recall with 50 other users in the table', () => {
  test("the vector top 5 equals the brute-force top 5 over the owner's own chunks in ≥ 95 % of queries", async () => {
    const { client } = server.services.database
    const total = Number((await client.execute('SELECT count(*) AS n FROM document_chunks')).rows[0].n)
    const ownRows = (
      await client.execute({ sql: 'SELECT id, text FROM document_chunks WHERE user_id = ?', args: [owner] })
    ).rows
    expect(ownRows.length).toBeGreaterThan(10)
    expect(total - ownRows.length).toBeGreaterThan(ownRows.length * 3) // most rows are other users'
    const ownVectors = ownRows.map((r) => ({ id: String(r.id), vector: fakeEmbedding(String(r.text)) }))

    const queries = Array.from({ length: 60 }, () => Array.from({ length: 4 }, word).join(' '))
    let equal = 0
    for (const query of queries) {
      const q = fakeEmbedding(query)
      const reference = ownVectors
        .map((c) => ({ id: c.id, d: cosineDistance(q, c.vector) }))
        .sort((a, b) => a.d - b.d)
        .slice(0, 5)
      const found = await asUser(owner, () => server.services.repos.documents.nearest(Float32Array.from(q), 5))
      expect(found.every((hit) => ownVectors.some((c) => c.id === hit.chunkId))).toBe(true)
      // Same set; a tie at the boundary may pick either of equally distant chunks.
      const boundary = reference[4].d
      const sameSet = found.every(
        (hit) => reference.some((r) => r.id === hit.chunkId) || Math.abs(hit.distance - boundary) < 1e-6,
      )
      if (sameSet && found.length === 5) equal++
    }
    expect(equal / queries.length).toBeGreaterThanOrEqual(0.95)
  })

  test("search_documents (keywords and vectors fused) returns only the owner's passages, best first", async () => {
    const ownIds = new Set(
      (
        await server.services.database.client.execute({
          sql: 'SELECT id FROM document_chunks WHERE user_id = ?',
          args: [owner],
        })
      ).rows.map((r) => String(r.id)),
    )
    for (let i = 0; i < 10; i++) {
      const query = Array.from({ length: 3 }, word).join(' ')
      const passages = await asUser(owner, () => server.services.documents.search(query, 8))
      expect(passages.length).toBeGreaterThan(0)
      for (const p of passages) expect(ownIds.has(p.chunkId)).toBe(true)
      const scores = passages.map((p) => p.score)
      expect(scores).toEqual([...scores].sort((a, b) => b - a))
    }
    // Another user searching the same words sees only their own chunk(s).
    const theirs = await asUser(others[0], () => server.services.documents.search(VOCABULARY.slice(0, 5).join(' '), 20))
    for (const p of theirs) expect(ownIds.has(p.chunkId)).toBe(false)
  })

  test('a chunk shared word for word ranks first for its own words', async () => {
    const row = (
      await server.services.database.client.execute({
        sql: 'SELECT id, text FROM document_chunks WHERE user_id = ? LIMIT 1',
        args: [owner],
      })
    ).rows[0]
    const words = String(row.text).split(/\s+/).slice(0, 12).join(' ')
    const [best] = await asUser(owner, () => server.services.documents.search(words, 5))
    expect(best.chunkId).toBe(String(row.id))
  })
})
