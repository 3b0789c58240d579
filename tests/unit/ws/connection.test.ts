import { describe, expect, test } from 'bun:test'
import { Connection, type RawSocket } from '../../../src/ws/connection'
import { ConnectionRegistry } from '../../../src/ws/registry'
import { createUserContext } from '../../../src/context/user-context'
import { parseClientFrame } from '../../../src/ws/frames'
import type { JournalEntry } from '../../../src/runs/journal'

/** A socket that records what is sent (Bun's ServerWebSocket has the same surface). */
function recordingSocket(buffered = () => 0) {
  const sent: string[] = []
  let closedWith: number | undefined
  const socket: RawSocket = {
    send: (data) => (sent.push(data), data.length),
    close: (code) => void (closedWith = code),
    getBufferedAmount: buffered,
    get readyState() {
      return closedWith === undefined ? 1 : 3
    },
  }
  return { socket, sent, closedWith: () => closedWith }
}

const stats = () => ({ sent: 0, duplicatesDropped: 0, slowClosed: 0, failed: 0 })
const entry = (runId: string, seq: number): JournalEntry => {
  const event = { type: 'message_delta', delta: `${seq}`, runId, threadId: 't', seq, ts: '', agent: 'triage' } as any
  return { event, wire: JSON.stringify(event) }
}
const seqsOf = (sent: string[]) => sent.map((s) => JSON.parse(s).seq)

function connection(
  userId: string,
  socket: RawSocket,
  s = stats(),
  maxBufferedBytes = 1 << 20,
  replayStallMs?: number,
) {
  return new Connection(
    `c-${userId}-${Math.random()}`,
    createUserContext({ userId, role: 'member' }),
    socket,
    { maxBufferedBytes, replayStallMs },
    s,
    0,
  )
}

describe('delivery on one connection', () => {
  test('live events in order; a repeated seq is dropped', () => {
    const { socket, sent } = recordingSocket()
    const s = stats()
    const c = connection('u1', socket, s)
    for (const seq of [1, 2, 3, 2, 3, 4]) c.deliver(entry('r', seq))
    expect(seqsOf(sent)).toEqual([1, 2, 3, 4])
    expect(s.duplicatesDropped).toBe(2)
  })

  test('resume replays after afterSeq, holding live events that arrive meanwhile, without doubling', async () => {
    const { socket, sent } = recordingSocket()
    const c = connection('u1', socket)
    let release!: () => void
    const loading = new Promise<void>((r) => (release = r))
    const resumed = c.resume('r', 2, async () => {
      await loading
      return [1, 2, 3, 4, 5].map((seq) => entry('r', seq)) // the journal so far
    })
    c.deliver(entry('r', 5)) // live, while the journal is read: already in the replay
    c.deliver(entry('r', 6)) // live, newer than the replay
    expect(sent).toEqual([]) // held behind the replay
    release()
    expect(await resumed).toBe(3)
    expect(seqsOf(sent)).toEqual([3, 4, 5, 6])
  })

  test('a client may ask again from an earlier seq: the replay is sent even if seen', async () => {
    const { socket, sent } = recordingSocket()
    const c = connection('u1', socket)
    for (const seq of [1, 2, 3]) c.deliver(entry('r', seq))
    await c.resume('r', 0, async () => [1, 2, 3].map((seq) => entry('r', seq)))
    c.deliver(entry('r', 4))
    expect(seqsOf(sent)).toEqual([1, 2, 3, 1, 2, 3, 4])
  })

  test('a long replay reads the journal a page at a time, pages sized by the largest event', async () => {
    const { socket, sent } = recordingSocket()
    const c = connection('u1', socket, stats(), 64 << 20)
    const big = (seq: number): JournalEntry => {
      const event = {
        type: 'message_delta',
        delta: 'd'.repeat(300_000),
        runId: 'r',
        threadId: 't',
        seq,
        ts: '',
        agent: 'triage',
      } as any
      return { event, wire: JSON.stringify(event) }
    }
    const journal = Array.from({ length: 40 }, (_, i) => big(i + 1))
    const asked: number[] = []
    const replayed = await c.resume('r', 0, async (after, limit) => {
      asked.push(limit)
      return journal.filter((e) => e.event.seq > after).slice(0, limit)
    })
    expect(replayed).toBe(40)
    expect(seqsOf(sent)).toEqual(journal.map((e) => e.event.seq))
    // The first page is small; then about 1 MiB of 300 kB events a page, never the whole run.
    expect(asked[0]).toBe(4)
    expect(Math.max(...asked.slice(1))).toBe(3)
    expect(asked.length).toBeGreaterThan(10)
  })

  test('a reader over the buffer cap is closed with 1013 and nothing more is queued for it', () => {
    let buffered = 0
    const { socket, sent, closedWith } = recordingSocket(() => buffered)
    const s = stats()
    const c = connection('u1', socket, s, 1000)
    c.deliver(entry('r', 1))
    buffered = 5000
    c.deliver(entry('r', 2))
    c.deliver(entry('r', 3))
    expect(seqsOf(sent)).toEqual([1])
    expect(closedWith()).toBe(1013)
    expect(s.slowClosed).toBe(1)
  })

  test('a replay waits out a drain that comes while the queue is still over the cap, then goes on', async () => {
    let buffered = 0
    const { socket, sent, closedWith } = recordingSocket(() => buffered)
    const send = socket.send
    socket.send = (data) => ((buffered = 50_000), send(data)) // each frame is big: far over the cap
    const s = stats()
    const c = connection('u1', socket, s, 1000)
    const resumed = c.resume('r', 0, async () => [1, 2, 3].map((seq) => entry('r', seq)))
    await Bun.sleep(20)
    expect(seqsOf(sent)).toEqual([1])
    // Bun fires `drain` once the socket is writable again, with megabytes still queued.
    buffered = 40_000
    c.notifyDrain()
    await Bun.sleep(20)
    expect(closedWith()).toBeUndefined()
    expect(seqsOf(sent)).toEqual([1])
    socket.send = send
    buffered = 0 // the client caught up
    expect(await resumed).toBe(3)
    expect(seqsOf(sent)).toEqual([1, 2, 3])
    expect(s.slowClosed).toBe(0)
  })

  test('a replay to a client that stopped reading is closed with 1013 after its deadline', async () => {
    let buffered = 0
    const { socket, sent, closedWith } = recordingSocket(() => buffered)
    const s = stats()
    const send = socket.send
    socket.send = (data) => ((buffered = 50_000), send(data)) // and it never shrinks
    const c = connection('u1', socket, s, 1000, 50)
    const resumed = c.resume('r', 0, async () => [1, 2, 3].map((seq) => entry('r', seq)))
    expect(await resumed).toBe(1)
    expect(seqsOf(sent)).toEqual([1])
    expect(closedWith()).toBe(1013)
    expect(s.slowClosed).toBe(1)
  })
})

describe('the registry routes by user', () => {
  test("a user's event reaches all of that user's connections and no one else's", () => {
    const registry = new ConnectionRegistry()
    const a1 = recordingSocket()
    const a2 = recordingSocket()
    const b1 = recordingSocket()
    registry.add(connection('alice', a1.socket, registry.stats))
    registry.add(connection('alice', a2.socket, registry.stats))
    registry.add(connection('bob', b1.socket, registry.stats))
    registry.deliver('alice', entry('ra', 1))
    registry.deliver('bob', entry('rb', 1))
    expect(a1.sent.map((s) => JSON.parse(s).runId)).toEqual(['ra'])
    expect(a2.sent.map((s) => JSON.parse(s).runId)).toEqual(['ra'])
    expect(b1.sent.map((s) => JSON.parse(s).runId)).toEqual(['rb'])
  })

  test("the user's entry goes with their last connection", () => {
    const registry = new ConnectionRegistry()
    const c1 = connection('alice', recordingSocket().socket)
    const c2 = connection('alice', recordingSocket().socket)
    registry.add(c1)
    registry.add(c2)
    expect(registry.users).toBe(1)
    registry.remove(c1)
    expect(registry.users).toBe(1)
    registry.remove(c2)
    expect(registry.users).toBe(0)
    expect(registry.size).toBe(0)
  })
})

describe("the registry's batch delivery", () => {
  test("a batch's frames are written corked, one cork per connection, in order, after the batch", () => {
    const registry = new ConnectionRegistry()
    const corks: number[] = []
    const rec = recordingSocket()
    const socket: RawSocket = {
      ...rec.socket,
      readyState: 1,
      cork: (write) => {
        const before = rec.sent.length
        write()
        corks.push(rec.sent.length - before)
      },
    }
    registry.add(connection('alice', socket, registry.stats))
    registry.deliverBatch(() => {
      for (const seq of [1, 2, 3]) registry.deliver('alice', entry('ra', seq))
      expect(rec.sent).toHaveLength(0)
    })
    expect(seqsOf(rec.sent)).toEqual([1, 2, 3])
    expect(corks).toEqual([3])
  })
})

describe('client frames', () => {
  test.each([
    ['{bad', 'invalid_json'],
    [[1], 'invalid_frame'],
    [{}, 'invalid_frame'],
    [{ type: 'nope' }, 'unknown_type'],
    [{ type: 'chat', requestId: 'r' }, 'missing_field'],
    [{ type: 'chat', requestId: 'r', content: 'x'.repeat(32_001) }, 'content_too_long'],
    [{ type: 'chat', requestId: 'r', content: 'hi', agent: 7 }, 'invalid_field'],
    [{ type: 'resume', runId: 'x', afterSeq: 1.5 }, 'invalid_field'],
    [{ type: 'cancel' }, 'missing_field'],
  ] as [unknown, string][])('%j → %s', (frame, code) => {
    const parsed = parseClientFrame(frame)
    expect(parsed.ok).toBe(false)
    if (!parsed.ok) expect(parsed.code).toBe(code)
  })

  test('valid frames come back typed; resume defaults afterSeq to 0; requestId is echoed on errors', () => {
    expect(parseClientFrame('{"type":"ping"}')).toEqual({ ok: true, frame: { type: 'ping' } })
    expect(parseClientFrame({ type: 'resume', runId: 'r' })).toEqual({
      ok: true,
      frame: { type: 'resume', runId: 'r', afterSeq: 0 },
    })
    expect(parseClientFrame({ type: 'chat', requestId: 'q', content: 'hi', threadId: 't' })).toMatchObject({
      ok: true,
      frame: { type: 'chat', requestId: 'q', content: 'hi', threadId: 't' },
    })
    expect(parseClientFrame({ type: 'chat', requestId: 'q7' })).toMatchObject({ ok: false, requestId: 'q7' })
  })
})
