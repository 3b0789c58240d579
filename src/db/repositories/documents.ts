import { and, desc, eq, inArray, lt, or, sql } from 'drizzle-orm'
import type { Database } from '../client'
import { ownerMatch } from '../fts'
import { documentChunks, documents, type DocumentStatus } from '../schema'
import { iso, newId, ownerId } from '../scope'
import { decodeTimeCursor, encodeTimeCursor } from '../../http/keyset-page'
import { DocumentVectorCache, type VectorHit } from './document-vectors'
import { ftsQuery } from './messages'
import { allOwned, ownedRows } from './owned-rows'

/** Memory for the searching users' vectors unless configured (DOCUMENT_VECTOR_CACHE_MB). */
export const DEFAULT_VECTOR_CACHE_BYTES = 256 * 1024 * 1024

export interface DocumentView {
  id: string
  name: string
  mime: string
  bytes: number
  status: DocumentStatus
  progress: number
  chunks: number
  error?: string
  createdAt: string
  updatedAt: string
}

/** A chunk as retrieval and citations read it. */
export interface ChunkView {
  chunkId: string
  documentId: string
  documentName: string
  text: string
}

export interface NewChunk {
  idx: number
  text: string
  embedding: Float32Array
}

const view = (row: typeof documents.$inferSelect): DocumentView => ({
  id: row.id,
  name: row.name,
  mime: row.mime,
  bytes: row.bytes,
  status: row.status,
  progress: row.progress,
  chunks: row.chunks,
  ...(row.error && { error: row.error }),
  createdAt: iso(row.createdAt),
  updatedAt: iso(row.updatedAt),
})

const vectorBytes = (v: Float32Array) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength)

/**
 * Documents of the active user, their chunks and vectors. Every read has `user_id = ?` inside
 * the query itself: the vector and keyword searches rank only the user's own rows (brute force
 * over them), so other users' chunks can neither leak in nor push the user's out of the top k.
 */
export function documentsRepository(
  database: Database,
  options: { vectorCacheBytes: number } = { vectorCacheBytes: DEFAULT_VECTOR_CACHE_BYTES },
) {
  const { db, client, write } = database
  const owned = ownedRows(database, documents, 'document')
  const { mine } = owned
  const vectors = new DocumentVectorCache(client, options.vectorCacheBytes)

  return {
    async create(input: { name: string; mime: string; bytes: number }): Promise<DocumentView> {
      const now = Date.now()
      const row = {
        id: newId(),
        userId: ownerId(),
        name: input.name,
        mime: input.mime,
        bytes: input.bytes,
        status: 'processing' as const,
        progress: 0,
        chunks: 0,
        pages: 0,
        createdAt: now,
        updatedAt: now,
      }
      const [saved] = await write((db) => db.insert(documents).values(row).returning())
      return view(saved)
    },

    /** Newest first, `limit` per page, `cursor` from the previous page. */
    async list(opts: {
      limit: number
      cursor?: string
    }): Promise<{ documents: DocumentView[]; nextCursor: string | null }> {
      const after = opts.cursor ? decodeTimeCursor(opts.cursor) : undefined
      const where = after
        ? and(
            eq(documents.userId, ownerId()),
            or(
              lt(documents.createdAt, after.createdAt),
              and(eq(documents.createdAt, after.createdAt), lt(documents.id, after.id)),
            ),
          )
        : eq(documents.userId, ownerId())
      const rows = await db
        .select()
        .from(documents)
        .where(where)
        .orderBy(desc(documents.createdAt), desc(documents.id))
        .limit(opts.limit + 1)
      const page = rows.slice(0, opts.limit)
      return { documents: page.map(view), nextCursor: rows.length > opts.limit ? encodeTimeCursor(page.at(-1)!) : null }
    },

    async get(id: string): Promise<DocumentView> {
      return view(await owned.get(id))
    },

    /** Its chunks go with it (the composite foreign key cascades; triggers drop the index entries). */
    remove: owned.remove,

    /** Moves ingestion along; undefined when the document is gone (deleted meanwhile). */
    async update(
      id: string,
      change: {
        status?: DocumentStatus
        progress?: number
        chunks?: number
        pages?: number
        error?: string | null
        text?: string
      },
    ): Promise<DocumentView | undefined> {
      const where = mine(id)
      const [row] = await write((db) =>
        db
          .update(documents)
          .set({ ...change, updatedAt: Date.now() })
          .where(where)
          .returning(),
      )
      return row && view(row)
    },

    /**
     * Adds chunks with their vectors in one batch. The composite foreign key refuses chunks for a
     * document that is not the user's (or was deleted meanwhile): then this returns false.
     */
    async addChunks(documentId: string, chunks: NewChunk[]): Promise<boolean> {
      if (chunks.length === 0) return true
      const userId = ownerId()
      try {
        await write(() =>
          client.batch(
            chunks.map((c) => ({
              sql: 'INSERT INTO document_chunks (id, user_id, document_id, idx, text, embedding) VALUES (?, ?, ?, ?, ?, ?)',
              args: [newId(), userId, documentId, c.idx, c.text, vectorBytes(c.embedding)],
            })),
            'write',
          ),
        )
        return true
      } catch (error) {
        if (/FOREIGN KEY constraint failed/i.test(String((error as Error)?.message ?? error))) return false
        throw error
      }
    },

    /** Drops a document's chunks (a failed ingestion leaves no half of a document searchable). */
    async clearChunks(documentId: string): Promise<void> {
      const userId = ownerId()
      await write((db) =>
        db
          .delete(documentChunks)
          .where(and(eq(documentChunks.userId, userId), eq(documentChunks.documentId, documentId))),
      )
    },

    /**
     * The user's chunks nearest to `embedding` (cosine distance), nearest first: from the user's
     * vectors held in memory, or (too many to hold) by SQLite over the user's rows.
     */
    async nearest(embedding: Float32Array, k: number): Promise<VectorHit[]> {
      const held = await vectors.nearest(ownerId(), embedding, k)
      if (held) return held
      const result = await client.execute({
        sql: `SELECT id, vector_distance_cos(embedding, ?) AS distance FROM document_chunks
              WHERE user_id = ? AND embedding IS NOT NULL ORDER BY distance ASC, id ASC LIMIT ?`,
        args: [vectorBytes(embedding), ownerId(), k],
      })
      return result.rows.map((r) => ({ chunkId: String(r.id), distance: Number(r.distance) }))
    },

    /**
     * The user's chunks matching the words of `query` (FTS5, bm25 over the text), best first. The
     * owner is part of the MATCH (the index holds `user_id` as tokens), so the index itself yields
     * only the user's rows; the join checks `user_id` once more.
     */
    async keywordMatches(query: string, k: number): Promise<{ chunkId: string }[]> {
      const words = ftsQuery(query)
      if (!words) return []
      const userId = ownerId()
      const result = await client.execute({
        sql: `SELECT c.id AS id FROM
                (SELECT rowid, bm25(document_chunks_fts, 1.0, 0.0) AS score FROM document_chunks_fts
                 WHERE document_chunks_fts MATCH ? ORDER BY score, rowid LIMIT ?) f
              JOIN document_chunks c ON c.rowid = f.rowid
              WHERE c.user_id = ? ORDER BY f.score, f.rowid`,
        args: [ownerMatch(userId, 'text', words), k, userId],
      })
      return result.rows.map((r) => ({ chunkId: String(r.id) }))
    },

    /** These chunks, if they are the user's, with their document's name. */
    async chunks(ids: string[]): Promise<ChunkView[]> {
      if (ids.length === 0) return []
      const rows = await db
        .select({
          chunkId: documentChunks.id,
          documentId: documentChunks.documentId,
          documentName: documents.name,
          text: documentChunks.text,
        })
        .from(documentChunks)
        .innerJoin(
          documents,
          and(eq(documents.id, documentChunks.documentId), eq(documents.userId, documentChunks.userId)),
        )
        .where(and(eq(documentChunks.userId, ownerId()), inArray(documentChunks.id, ids)))
      return rows
    },

    /** The extracted text of each of the user's documents (account export). */
    async texts(): Promise<{ id: string; name: string; mime: string; text: string | null; createdAt: string }[]> {
      const rows = await allOwned(db, documents, desc(documents.createdAt))
      return rows.map(({ id, name, mime, text, createdAt }) => ({ id, name, mime, text, createdAt: iso(createdAt) }))
    },

    /**
     * Documents a stopped process left `processing`, for every user (a system task at start):
     * they are failed so their owners can upload them again.
     */
    async failInterrupted(message: string): Promise<number> {
      const rows = await write((db) =>
        db
          .update(documents)
          .set({ status: 'failed', error: message, updatedAt: Date.now() })
          .where(eq(documents.status, 'processing'))
          .returning({ id: documents.id }),
      )
      return rows.length
    },

    /** Chunks of one user (benchmarks and tests). */
    async countChunks(): Promise<number> {
      const [row] = await db
        .select({ n: sql<number>`count(*)` })
        .from(documentChunks)
        .where(eq(documentChunks.userId, ownerId()))
      return Number(row?.n ?? 0)
    },
  }
}

export type DocumentsRepository = ReturnType<typeof documentsRepository>
