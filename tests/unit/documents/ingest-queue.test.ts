import { describe, expect, test } from 'bun:test'
import { IngestQueue } from '../../../src/documents/ingest'
import { currentUser } from '../../../src/context/user-context'

/** A stand-in for the repository that records which document started, as which user. */
function recorder() {
  const started: string[] = []
  const users: Record<string, string> = {}
  const documents = {
    async update(id: string, change: { progress?: number; status?: string }) {
      if (change.progress !== undefined && change.progress < 1 && !started.includes(id)) {
        started.push(id)
        users[id] = currentUser().userId
      }
      return { id, status: change.status ?? 'processing' } as any
    },
    async addChunks() {
      return true
    },
    async clearChunks() {},
  }
  return { started, users, documents: documents as any }
}

const text = (s: string) => new TextEncoder().encode(s)

describe('IngestQueue', () => {
  test("users take turns: a pile of one user's uploads does not hold another user's back", async () => {
    const r = recorder()
    const queue = new IngestQueue({
      documents: r.documents,
      embedder: () => async (texts) => texts.map(() => new Float32Array(768)),
      notify: () => {},
      concurrency: 1,
    })
    for (const id of ['a1', 'a2', 'a3'])
      queue.add({ userId: 'alice', documentId: id, mime: 'text/plain', bytes: text(`document ${id}`) })
    queue.add({ userId: 'bob', documentId: 'b1', mime: 'text/plain', bytes: text('document b1') })
    expect(queue.queuedBytes('alice')).toBe(text('document a2').byteLength * 2) // a1 is running
    await queue.idle()
    expect(r.started).toEqual(['a1', 'b1', 'a2', 'a3'])
    // Each ran as its owner.
    expect(r.users).toEqual({ a1: 'alice', a2: 'alice', a3: 'alice', b1: 'bob' })
    expect(queue.pending).toBe(0)
  })

  test('cancel drops a waiting job; close stops everything', async () => {
    const r = recorder()
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    const queue = new IngestQueue({
      documents: r.documents,
      embedder: () => async (texts) => (await gate, texts.map(() => new Float32Array(768))),
      notify: () => {},
      concurrency: 1,
    })
    queue.add({ userId: 'alice', documentId: 'a1', mime: 'text/plain', bytes: text('one') })
    queue.add({ userId: 'alice', documentId: 'a2', mime: 'text/plain', bytes: text('two') })
    queue.cancel('a2')
    expect(queue.pending).toBe(1)
    release()
    await queue.idle()
    expect(r.started).toEqual(['a1'])
  })
})
