import type { Client } from '@libsql/client'

/** One of the user's chunks nearest to a query: cosine distance, 0 = same direction. */
export interface VectorHit {
  chunkId: string
  distance: number
}

/** A user's vectors as read from the database, normalised, one after another in `values`. */
interface UserVectors {
  added: number
  removed: number
  /** Highest rowid read: rows added later have higher ones (this user's rows all still exist). */
  lastRowid: number
  count: number
  ids: string[]
  values: Float32Array
  dimensions: number
}

const NO_VERSION = { added: 0, removed: 0 }
const EMPTY: UserVectors = {
  ...NO_VERSION,
  lastRowid: 0,
  count: 0,
  ids: [],
  values: new Float32Array(0),
  dimensions: 0,
}

/**
 * Each searching user's document vectors held in memory, normalised, so a vector search is one
 * pass of dot products over a Float32Array (about 6 ms for 20,000 × 768 on one core) instead of
 * SQLite calling `vector_distance_cos` row by row (25–50 ms). Exact: every one of the user's
 * vectors is scored, as before.
 *
 * The database stays the truth. `document_vector_versions` (triggers, migration 0008) counts the
 * vectors each user ever added and removed; one primary-key read per search tells whether the copy
 * is current, also when another process of a cluster wrote. Only additions since → read the rows
 * above the copy's highest rowid; any removal → read the user's vectors again. The counters are
 * read before the rows, so a write in between can only make the copy look older than it is.
 *
 * Bounded: least recently searched users are dropped past `maxBytes`; a user whose vectors alone
 * exceed it is answered by `undefined`, and the caller asks SQLite as before.
 */
export class DocumentVectorCache {
  private readonly users = new Map<string, UserVectors>()
  private bytes = 0

  constructor(
    private readonly client: Client,
    private readonly maxBytes: number,
  ) {}

  /** The user's `k` nearest chunks, nearest first (ties by id); undefined when not held here. */
  async nearest(userId: string, query: Float32Array, k: number): Promise<VectorHit[] | undefined> {
    if (k <= 0) return []
    const vectors = await this.current(userId, query.length)
    if (!vectors) return undefined
    if (vectors.count > 0 && vectors.dimensions !== query.length) return undefined
    return topK(vectors, normalised(query), k)
  }

  /** The memory the copies take now, in bytes (metrics and tests). */
  get heldBytes(): number {
    return this.bytes
  }

  private async current(userId: string, dimensions: number): Promise<UserVectors | undefined> {
    const version = await this.version(userId)
    // Too many to hold (or holding switched off): not read at all.
    if ((version.added - version.removed) * dimensions * 4 > this.maxBytes) return undefined
    const held = this.users.get(userId)
    if (held && held.removed === version.removed && held.added === version.added) {
      this.touch(userId, held)
      return held
    }
    // Only additions since: the rows after the copy's last; any removal: every row again.
    const base = held && held.removed === version.removed ? held : EMPTY
    const vectors = this.append(base, await this.rows(userId, base.lastRowid), version)
    this.store(userId, vectors)
    return vectors
  }

  private async version(userId: string): Promise<{ added: number; removed: number }> {
    const { rows } = await this.client.execute({
      sql: 'SELECT added, removed FROM document_vector_versions WHERE user_id = ?',
      args: [userId],
    })
    return rows[0] ? { added: Number(rows[0].added), removed: Number(rows[0].removed) } : NO_VERSION
  }

  private async rows(userId: string, afterRowid: number) {
    const { rows } = await this.client.execute({
      sql: `SELECT rowid AS r, id, embedding FROM document_chunks
            WHERE user_id = ? AND rowid > ? AND embedding IS NOT NULL ORDER BY rowid`,
      args: [userId, afterRowid],
    })
    return rows.map((row) => ({
      rowid: Number(row.r),
      id: String(row.id),
      vector: new Float32Array(row.embedding as ArrayBuffer),
    }))
  }

  private append(
    held: UserVectors,
    rows: { rowid: number; id: string; vector: Float32Array }[],
    version: { added: number; removed: number },
  ): UserVectors {
    if (rows.length === 0) return { ...held, ...version }
    const dimensions = held.dimensions || rows[0].vector.length
    const values = new Float32Array((held.count + rows.length) * dimensions)
    values.set(held.values.subarray(0, held.count * dimensions))
    const ids = held.ids.slice()
    let count = held.count
    for (const row of rows) {
      // A vector of another length (a changed embedding model) cannot be compared: left out.
      if (row.vector.length !== dimensions) continue
      values.set(normalised(row.vector), count * dimensions)
      ids.push(row.id)
      count++
    }
    return { ...version, lastRowid: rows.at(-1)!.rowid, count, ids, values, dimensions }
  }

  private store(userId: string, vectors: UserVectors) {
    this.drop(userId)
    const size = vectors.count * vectors.dimensions * 4
    if (size > this.maxBytes) return
    this.users.set(userId, vectors)
    this.bytes += size
    for (const [id, held] of this.users) {
      if (this.bytes <= this.maxBytes) break
      if (id !== userId) this.drop(id, held)
    }
  }

  private drop(userId: string, held = this.users.get(userId)) {
    if (!held) return
    this.users.delete(userId)
    this.bytes -= held.count * held.dimensions * 4
  }

  /** Map order is the LRU order: a searched user moves to the end. */
  private touch(userId: string, vectors: UserVectors) {
    this.users.delete(userId)
    this.users.set(userId, vectors)
  }
}

function normalised(vector: Float32Array): Float32Array {
  let sum = 0
  for (let i = 0; i < vector.length; i++) sum += vector[i] * vector[i]
  const norm = Math.sqrt(sum)
  const out = new Float32Array(vector.length)
  if (norm > 0) for (let i = 0; i < vector.length; i++) out[i] = vector[i] / norm
  return out
}

/** Scores every vector; keeps the best `k` in a small sorted array (k is tens, rows thousands). */
function topK(vectors: UserVectors, query: Float32Array, k: number): VectorHit[] {
  const { values, dimensions, count, ids } = vectors
  const best: { index: number; distance: number }[] = []
  const worse = (a: { index: number; distance: number }, b: { index: number; distance: number }) =>
    a.distance > b.distance || (a.distance === b.distance && ids[a.index] > ids[b.index])
  for (let row = 0; row < count; row++) {
    const base = row * dimensions
    let s0 = 0
    let s1 = 0
    let s2 = 0
    let s3 = 0
    let j = 0
    for (; j + 3 < dimensions; j += 4) {
      s0 += values[base + j] * query[j]
      s1 += values[base + j + 1] * query[j + 1]
      s2 += values[base + j + 2] * query[j + 2]
      s3 += values[base + j + 3] * query[j + 3]
    }
    for (; j < dimensions; j++) s0 += values[base + j] * query[j]
    const candidate = { index: row, distance: 1 - (s0 + s1 + s2 + s3) }
    if (best.length === k && !worse(best[k - 1], candidate)) continue
    let at = best.length
    while (at > 0 && worse(best[at - 1], candidate)) at--
    best.splice(at, 0, candidate)
    if (best.length > k) best.pop()
  }
  return best.map(({ index, distance }) => ({ chunkId: ids[index], distance }))
}
