/**
 * The in-memory copy of each user's document vectors (src/db/repositories/document-vectors.ts)
 * against the database it copies: the same nearest chunks as SQLite's own scan, current after
 * additions and removals (also those written through another connection, as another process of a
 * cluster would), bounded in memory, and never holding one user's vectors for another.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { openDatabase, type Database } from '../../../src/db/client'
import { DocumentVectorCache } from '../../../src/db/repositories/document-vectors'
import { documentsRepository } from '../../../src/db/repositories/documents'
import { asUser, createDbUsers, openTestDatabase, type TestDatabase } from '../../support/db'

const DIMENSIONS = 768

/** Seeded so every run has the same vectors: dense, like a real embedding model's. */
function prng(seed: number) {
  return () => {
    seed = (seed * 1664525 + 1013904223) >>> 0
    return seed / 2 ** 32
  }
}
const random = prng(7)
const vector = () => Float32Array.from({ length: DIMENSIONS }, () => random() - 0.5)

let testDb: TestDatabase
let other: Database
let alice: string
let bob: string

/** Repositories over the same file: one holding vectors in memory, one always asking SQLite. */
const inMemory = () => documentsRepository(testDb.database, { vectorCacheBytes: 64 * 1024 * 1024 })
const sqlOnly = () => documentsRepository(testDb.database, { vectorCacheBytes: 0 })

async function addDocument(
  repo: ReturnType<typeof documentsRepository>,
  user: string,
  chunks: number,
): Promise<{ id: string; vectors: Float32Array[] }> {
  return asUser(user, async () => {
    const document = await repo.create({ name: 'doc.txt', mime: 'text/plain', bytes: 1 })
    const vectors = Array.from({ length: chunks }, vector)
    const added = await repo.addChunks(
      document.id,
      vectors.map((embedding, idx) => ({ idx, text: `chunk ${idx}`, embedding })),
    )
    expect(added).toBe(true)
    return { id: document.id, vectors }
  })
}

beforeAll(async () => {
  testDb = await openTestDatabase()
  other = await openDatabase(testDb.url)
  ;[{ id: alice }, { id: bob }] = await createDbUsers(testDb.database, 2, 'vectors')
})
afterAll(async () => {
  other?.close()
  await testDb?.close()
})

describe('document vectors held in memory', () => {
  test('rank exactly as SQLite does, and only the asking user’s chunks', async () => {
    const held = inMemory()
    const sql = sqlOnly()
    for (let i = 0; i < 3; i++) await addDocument(held, alice, 40)
    const bobs = await addDocument(held, bob, 40)
    const bobIds = new Set((await asUser(bob, () => sql.nearest(bobs.vectors[0], 200))).map((h) => h.chunkId))
    expect(bobIds.size).toBe(40)
    for (let q = 0; q < 20; q++) {
      const query = vector()
      const fromMemory = await asUser(alice, () => held.nearest(query, 10))
      const fromSql = await asUser(alice, () => sql.nearest(query, 10))
      expect(fromMemory.map((h) => h.chunkId)).toEqual(fromSql.map((h) => h.chunkId))
      fromMemory.forEach((hit, i) => {
        expect(hit.distance).toBeCloseTo(fromSql[i].distance, 5)
      })
      for (const hit of fromMemory) expect(bobIds.has(hit.chunkId)).toBe(false)
    }
    // A chunk's own vector is its nearest (distance 0) for its owner only.
    const [top] = await asUser(bob, () => held.nearest(bobs.vectors[5], 1))
    expect(bobIds.has(top.chunkId)).toBe(true)
    expect(top.distance).toBeCloseTo(0, 5)
  })

  test('see chunks added and documents deleted, by this connection or another one', async () => {
    const held = inMemory()
    const viaOther = documentsRepository(other, { vectorCacheBytes: 0 })
    const user = (await createDbUsers(testDb.database, 1, 'vectors-fresh'))[0].id
    const first = await addDocument(held, user, 10)
    const probe = first.vectors[3]
    expect(await asUser(user, () => held.nearest(probe, 100))).toHaveLength(10)

    // Another process adds a document: its chunks are found at once, the nearest one exactly.
    const second = await addDocument(viaOther, user, 5)
    const found = await asUser(user, () => held.nearest(second.vectors[2], 100))
    expect(found).toHaveLength(15)
    expect(found[0].distance).toBeCloseTo(0, 5)

    // Another process deletes the first document: its chunks are gone from the next search.
    await asUser(user, () => viaOther.remove(first.id))
    const after = await asUser(user, () => held.nearest(probe, 100))
    expect(after).toHaveLength(5)
    const remaining = await asUser(user, () => viaOther.nearest(probe, 100))
    expect(after.map((h) => h.chunkId).sort()).toEqual(remaining.map((h) => h.chunkId).sort())

    // Deleted and re-added with as many chunks: the copy is read again, not taken for current.
    await asUser(user, () => held.remove(second.id))
    const third = await addDocument(viaOther, user, 5)
    const [nearest] = await asUser(user, () => held.nearest(third.vectors[0], 1))
    expect(nearest.distance).toBeCloseTo(0, 5)
  })

  test('stay within their memory bound; a user with more vectors than fit is searched in SQLite', async () => {
    const [small, large] = (await createDbUsers(testDb.database, 2, 'vectors-bound')).map((u) => u.id)
    const repo = inMemory()
    await addDocument(repo, small, 10)
    const big = await addDocument(repo, large, 30)
    const bound = 20 * DIMENSIONS * 4 // room for 20 vectors
    const cache = new DocumentVectorCache(testDb.database.client, bound)
    expect(await cache.nearest(small, vector(), 5)).toHaveLength(5)
    expect(cache.heldBytes).toBe(10 * DIMENSIONS * 4)
    expect(await cache.nearest(large, vector(), 5)).toBeUndefined()
    expect(cache.heldBytes).toBeLessThanOrEqual(bound)

    // The repository still answers for the large user, through SQLite.
    const bounded = documentsRepository(testDb.database, { vectorCacheBytes: bound })
    const [hit] = await asUser(large, () => bounded.nearest(big.vectors[7], 1))
    expect(hit.distance).toBeCloseTo(0, 5)
  })

  test('drop the least recently searched user when another needs the room', async () => {
    const users = (await createDbUsers(testDb.database, 3, 'vectors-lru')).map((u) => u.id)
    const repo = inMemory()
    for (const user of users) await addDocument(repo, user, 10)
    const cache = new DocumentVectorCache(testDb.database.client, 25 * DIMENSIONS * 4) // two of three fit
    await cache.nearest(users[0], vector(), 1)
    await cache.nearest(users[1], vector(), 1)
    expect(cache.heldBytes).toBe(20 * DIMENSIONS * 4)
    await cache.nearest(users[2], vector(), 1)
    expect(cache.heldBytes).toBe(20 * DIMENSIONS * 4)
    // Every user is still answered in full, whoever was dropped.
    for (const user of users) expect(await cache.nearest(user, vector(), 50)).toHaveLength(10)
  })

  test('a deleted account leaves no counters behind', async () => {
    const [user] = (await createDbUsers(testDb.database, 1, 'vectors-gone')).map((u) => u.id)
    await addDocument(inMemory(), user, 3)
    const count = async () =>
      Number(
        (
          await testDb.database.client.execute({
            sql: 'SELECT count(*) AS n FROM document_vector_versions WHERE user_id = ?',
            args: [user],
          })
        ).rows[0].n,
      )
    expect(await count()).toBe(1)
    await testDb.database.client.execute({ sql: 'DELETE FROM users WHERE id = ?', args: [user] })
    expect(await count()).toBe(0)
  })
})
