import type { UserContext } from '../context/user-context'
import { CLOSE_CODES, type ServerFrame } from '../protocol'
import type { JournalEntry } from '../runs/journal'

/** The raw socket we need: Bun's ServerWebSocket has all of these. */
export interface RawSocket {
  send(data: string): number
  close(code?: number, reason?: string): void
  getBufferedAmount(): number
  readonly readyState: number
  /** Sends made inside `callback` leave in one write (Bun's ServerWebSocket.cork). */
  cork?(callback: () => void): unknown
}

/** Connections with frames gathered by the delivery batch in progress (Connection.batch). */
let batching: Set<Connection> | undefined

export interface ConnectionLimits {
  /** Bytes queued for a slow reader before it is closed with 1013 (its runs stay resumable). */
  maxBufferedBytes: number
  /** How long a paced replay may wait for the client to read before it is closed with 1013. */
  replayStallMs?: number
}

const DEFAULT_REPLAY_STALL_MS = 30_000

/**
 * Replay pages: the first is small (events may be big), the next ones hold about `bytes` by the
 * largest event seen so far.
 */
const REPLAY_PAGE = { firstEvents: 4, maxEvents: 1000, bytes: 1024 * 1024 }

export interface DeliveryStats {
  sent: number
  duplicatesDropped: number
  slowClosed: number
  failed: number
}

const MAX_TRACKED_RUNS = 256

/**
 * One authenticated WebSocket. Delivery keeps each run's events in seq order on this
 * connection: live events already sent (by a resume replay) are dropped, and while a resume
 * is reading the journal the run's live events wait behind it.
 */
export class Connection {
  /** Last seq sent per run, so replay and live stream never double an event. */
  readonly #lastSeq = new Map<string, number>()
  /** Runs being resumed: live events held until the replay is out. */
  readonly #resuming = new Map<string, JournalEntry[]>()
  /** Replays waiting for the socket's queue to shrink; each checks its own condition. */
  readonly #drainWaiters = new Set<() => void>()
  /** Frames gathered by the delivery batch in progress, written when it ends. */
  #gathered: string[] | undefined
  closed = false

  constructor(
    readonly id: string,
    readonly context: UserContext,
    readonly socket: RawSocket,
    private readonly limits: ConnectionLimits,
    private readonly stats: DeliveryStats,
    public tokenExpiresAt: number,
  ) {}

  get userId() {
    return this.context.userId
  }

  /** Sends a frame outside any run; false when the socket is gone or had to be closed. */
  sendFrame(frame: ServerFrame): boolean {
    return this.#sendRaw(JSON.stringify(frame))
  }

  /** A live run event from the bus. */
  deliver(entry: JournalEntry): void {
    const { runId, seq } = entry.event
    const held = this.#resuming.get(runId)
    if (held) {
      held.push(entry)
      return
    }
    this.#sendEvent(entry, runId, seq)
  }

  /**
   * Replays events after `afterSeq` and then lets the live stream continue: `load(after, limit)`
   * reads a page of the journal (memory or database); live events arriving meanwhile wait and
   * are sent after it, minus any the replay already covered. Pages are read one at a time as
   * the client takes them, so a long run's replay never sits in memory whole.
   */
  async resume(
    runId: string,
    afterSeq: number,
    load: (afterSeq: number, limit: number) => Promise<JournalEntry[]>,
  ): Promise<number> {
    this.#resuming.set(runId, [])
    let replayed = 0
    let last = afterSeq
    let pageSize = REPLAY_PAGE.firstEvents
    let largest = 1
    try {
      this.#track(runId, afterSeq)
      while (!this.closed) {
        const page = await load(last, pageSize)
        let progressed = false
        for (const entry of page) {
          if (entry.event.seq <= last) continue
          // A long replay is paced by the client: it must not trip the slow-reader cap.
          if (this.socket.getBufferedAmount() > this.limits.maxBufferedBytes / 2 && !(await this.#drained())) {
            // The client stopped reading: holding its replay would pin memory. It can resume later.
            this.stats.slowClosed++
            this.close(CLOSE_CODES.tooSlow, 'client too slow, reconnect and resume')
          }
          if (this.closed) break
          if (this.#sendEvent(entry, runId, entry.event.seq)) replayed++
          last = entry.event.seq
          progressed = true
          largest = Math.max(largest, entry.wire.length)
        }
        if (!progressed || page.length < pageSize) break
        // About REPLAY_PAGE.bytes a page: fewer events when they are big, more when they are small.
        pageSize = Math.max(1, Math.min(REPLAY_PAGE.maxEvents, Math.floor(REPLAY_PAGE.bytes / largest)))
      }
    } finally {
      const held = this.#resuming.get(runId) ?? []
      this.#resuming.delete(runId)
      for (const entry of held) this.#sendEvent(entry, runId, entry.event.seq)
    }
    return replayed
  }

  /** Called by the socket's drain handler. */
  notifyDrain() {
    for (const check of [...this.#drainWaiters]) check()
  }

  /**
   * Waits until the socket's queue is under half the cap: true then, false if the connection
   * closed or the client read nothing for `replayStallMs`. Bun fires `drain` as soon as the
   * socket is writable again, which can be while megabytes are still queued, so each wake-up
   * re-checks the amount (sending then would trip the slow-reader cap); a short poll covers
   * caps below Bun's own backpressure limit, where no `drain` comes at all.
   */
  #drained(): Promise<boolean> {
    const stallMs = this.limits.replayStallMs ?? DEFAULT_REPLAY_STALL_MS
    return new Promise((resolve) => {
      let lastAmount = this.socket.getBufferedAmount()
      let lastProgress = performance.now()
      const check = () => {
        if (this.closed) return done(false)
        const amount = this.socket.getBufferedAmount()
        if (amount <= this.limits.maxBufferedBytes / 2) return done(true)
        const now = performance.now()
        if (amount < lastAmount) {
          lastAmount = amount
          lastProgress = now
        } else if (now - lastProgress >= stallMs) done(false)
      }
      const poll = setInterval(check, 5)
      const done = (ok: boolean) => {
        clearInterval(poll)
        this.#drainWaiters.delete(check)
        resolve(ok)
      }
      this.#drainWaiters.add(check)
    })
  }

  #sendEvent(entry: JournalEntry, runId: string, seq: number): boolean {
    const last = this.#lastSeq.get(runId)
    if (last !== undefined && seq <= last) {
      this.stats.duplicatesDropped++
      return false
    }
    if (!this.#sendRaw(entry.wire)) return false
    this.#track(runId, seq)
    return true
  }

  #track(runId: string, seq: number) {
    this.#lastSeq.delete(runId) // re-insert keeps the map in recency order
    this.#lastSeq.set(runId, seq)
    if (this.#lastSeq.size > MAX_TRACKED_RUNS) this.#lastSeq.delete(this.#lastSeq.keys().next().value!)
  }

  /**
   * Delivers many events at once (a stored batch of the journal): each connection's frames are
   * gathered, in order, and written corked when `fn` returns — one socket write per connection
   * instead of one per frame. Outside a batch every frame is written at once.
   */
  static batch(fn: () => void): void {
    if (batching) {
      fn()
      return
    }
    const gathered = (batching = new Set<Connection>())
    try {
      fn()
    } finally {
      batching = undefined
      for (const connection of gathered) connection.#writeGathered()
    }
  }

  #writeGathered() {
    const frames = this.#gathered
    this.#gathered = undefined
    if (!frames) return
    const writeAll = () => {
      for (const data of frames) if (!this.#write(data) && this.closed) return
    }
    if (frames.length > 1 && this.socket.cork) this.socket.cork(writeAll)
    else writeAll()
  }

  #sendRaw(data: string): boolean {
    if (this.closed || this.socket.readyState !== 1) return false
    if (batching) {
      // Written (in order, with the slow-reader check) when the batch ends, a moment from now.
      ;(this.#gathered ??= []).push(data)
      batching.add(this)
      return true
    }
    return this.#write(data)
  }

  #write(data: string): boolean {
    if (this.closed || this.socket.readyState !== 1) return false
    if (this.socket.getBufferedAmount() > this.limits.maxBufferedBytes) {
      // A reader this slow would make us buffer without bound; its runs stay resumable.
      this.stats.slowClosed++
      this.close(CLOSE_CODES.tooSlow, 'client too slow, reconnect and resume')
      return false
    }
    const status = this.socket.send(data)
    if (status === 0) {
      this.stats.failed++
      return false
    }
    this.stats.sent++
    return true
  }

  close(code: number, reason: string) {
    if (this.closed) return
    this.closed = true
    this.notifyDrain()
    try {
      this.socket.close(code, reason)
    } catch {}
  }
}
