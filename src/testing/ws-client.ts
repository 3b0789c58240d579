/**
 * A WebSocket test client speaking PROTOCOL.md §3 over a real socket: it records every frame
 * and lets a test wait for frames by predicate.
 */
export interface Frame {
  type: string
  [key: string]: any
}

export class WsClient {
  readonly frames: Frame[] = []
  closeCode: number | undefined
  closeReason: string | undefined
  readonly #waiters = new Set<{ check: () => boolean; resolve: () => void }>()
  readonly closed: Promise<{ code: number; reason: string }>

  private constructor(readonly socket: WebSocket) {
    socket.addEventListener('message', (e) => {
      this.frames.push(JSON.parse(String(e.data)))
      this.#wake()
    })
    this.closed = new Promise((resolve) =>
      socket.addEventListener('close', (e) => {
        this.closeCode = e.code
        this.closeReason = e.reason
        this.#wake()
        resolve({ code: e.code, reason: e.reason })
      }),
    )
  }

  /** Opens a socket (no auth yet). */
  static async open(url: string): Promise<WsClient> {
    const socket = new WebSocket(url)
    const client = new WsClient(socket)
    await new Promise<void>((resolve, reject) => {
      socket.addEventListener('open', () => resolve(), { once: true })
      socket.addEventListener('error', () => reject(new Error(`could not connect to ${url}`)), { once: true })
    })
    return client
  }

  /** Opens and authenticates; resolves once `ready` arrived. */
  static async connect(url: string, token: string): Promise<WsClient> {
    const client = await WsClient.open(url)
    client.send({ type: 'auth', token })
    await client.waitFor((f) => f.type === 'ready')
    return client
  }

  send(frame: object | string) {
    this.socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame))
  }

  #wake() {
    for (const w of this.#waiters) if (w.check()) w.resolve()
  }

  /** Waits until a frame matches (searching frames already received too). */
  async waitFor(predicate: (f: Frame) => boolean, timeoutMs = 10_000): Promise<Frame> {
    let found: Frame | undefined
    await this.until(() => (found = this.frames.find(predicate)) !== undefined, timeoutMs, 'a matching frame')
    return found!
  }

  /** Waits until `check` holds, re-checked on every frame and on close. */
  until(check: () => boolean, timeoutMs = 10_000, what = 'the condition'): Promise<void> {
    if (check()) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const waiter = {
        check,
        resolve: () => {
          clearTimeout(timer)
          this.#waiters.delete(waiter)
          resolve()
        },
      }
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter)
        const summary = this.frames.map((f) => f.type + (f.seq ? `#${f.seq}` : ''))
        const shown =
          summary.length > 40
            ? [...summary.slice(0, 20), `… ${summary.length - 40} more …`, ...summary.slice(-20)]
            : summary
        reject(new Error(`timed out waiting for ${what}; frames so far: ${JSON.stringify(shown)}`))
      }, timeoutMs)
      this.#waiters.add(waiter)
    })
  }

  /** Sends a chat frame and returns its `run_accepted`. */
  async chat(
    content: string,
    extra: { threadId?: string; agent?: string; model?: string } = {},
  ): Promise<{ runId: string; threadId: string }> {
    const requestId = crypto.randomUUID()
    this.send({ type: 'chat', requestId, content, ...extra })
    const accepted = await this.waitFor(
      (f) => (f.type === 'run_accepted' || f.type === 'error') && f.requestId === requestId,
    )
    if (accepted.type === 'error') throw new Error(`chat refused: ${accepted.code}: ${accepted.message}`)
    return { runId: accepted.runId, threadId: accepted.threadId }
  }

  /** All run events of one run received so far, in arrival order. */
  eventsOf(runId: string): Frame[] {
    return this.frames.filter((f) => f.runId === runId && typeof f.seq === 'number')
  }

  /** Waits for the run's `agent_completed` and returns the run's events. */
  async completion(runId: string, timeoutMs = 15_000): Promise<Frame[]> {
    await this.waitFor((f) => f.type === 'agent_completed' && f.runId === runId, timeoutMs)
    return this.eventsOf(runId)
  }

  close() {
    try {
      this.socket.close()
    } catch {}
  }
}

/** The answer text streamed by a run's message_delta events. */
export const streamedText = (events: Frame[]) =>
  events
    .filter((e) => e.type === 'message_delta')
    .map((e) => e.delta)
    .join('')

/** Asserts seq is 1..n with no gap or duplicate; returns the problem or undefined. */
export function seqProblem(events: Frame[]): string | undefined {
  for (let i = 0; i < events.length; i++) {
    if (events[i].seq !== i + 1) return `event ${i} has seq ${events[i].seq}, expected ${i + 1}`
  }
  return undefined
}
