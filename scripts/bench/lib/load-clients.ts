/**
 * The WebSocket clients live in a child process (`bun scripts/bench/lib/load-clients.ts
 * --load-client`), driven over Bun's IPC, so their CPU and memory are not counted as the
 * server's; the scripted model can run in a third process (startModelProcess), like a real
 * Ollama. The child checks every run it sees: seq 1..n complete on every connection of the
 * owner, no duplicate, and nothing of another user's runs (misdelivered).
 */
import type { ChatHandler, FakeOllama } from '../../../src/testing/fake-ollama'
import { answerCommands, CommandChild } from './commands'
import { mapLimit } from './map-limit'
import { echoHandler } from './server'
import type { BenchUser } from './users'

export type FakeSpec =
  | { mode: 'fixed'; content: string; chunkSize?: number; chunkDelayMs?: number; firstChunkDelayMs?: number }
  | { mode: 'echo'; chunkSize?: number; chunkDelayMs?: number; firstChunkDelayMs?: number; padding?: number }

/**
 * The echo model of the latency benchmarks from their flags: the first chunk after `ttfc` ms,
 * then `chunk` characters every `delay` ms, the question padded by `chars` characters.
 */
export const echoModel = (flags: { ttfc: number; chunk: number; delay: number; chars: number }): FakeSpec => ({
  mode: 'echo',
  firstChunkDelayMs: flags.ttfc,
  chunkSize: flags.chunk,
  chunkDelayMs: flags.delay,
  padding: flags.chars,
})

/**
 * The scripted Ollama (src/testing/fake-ollama.ts) in a child process of its own, as a real
 * Ollama runs outside the server: its streaming costs neither the server's process nor the
 * clients' (whose clock measures latencies).
 */
export async function startModelProcess(
  spec: FakeSpec,
): Promise<{ url: string; requests(): Promise<number>; stop(): Promise<void> }> {
  const host = await LoadClients.spawn()
  const { url } = await host.startFake(spec)
  return { url, requests: () => host.fakeRequests(), stop: () => host.stop() }
}

// ---------------------------------------------------------------------------------------------
// WebSocket load clients in a child process

export interface OpenResult {
  opened: number
  failed: number
  ms: number
  errors: string[]
}

export interface ChatJob {
  userId: string
  runs: number
  /** Runs of this user in flight at once (default 1). */
  concurrency?: number
  agent?: string
  /** Every `toolEvery`-th run asks for a tool call (`[tool]` in the question; agent `planner`). */
  toolEvery?: number
  /** Later runs of one lane continue the thread of its first run. */
  reuseThread?: boolean
  /** Pause between a run's completion and the next send, uniform in [min, max] ms. */
  thinkMs?: [number, number]
  /** Extra text appended to every question. */
  extra?: string
  /** Wait uniform [0, staggerMs] before the first send, so users don't start in lockstep. */
  staggerMs?: number
}

export interface ChatResult {
  runs: number
  completed: number
  statuses: Record<string, number>
  /** chat frames answered with too_many_runs / server_busy, and retried. */
  refused: number
  /** runs whose requesting connection never saw agent_completed in time. */
  incomplete: number
  /** Events of a run missing on a connection of its owner that was open throughout. */
  lost: number
  duplicated: number
  outOfOrder: number
  /** Events of a run delivered to a connection of another user. */
  misdelivered: number
  /** Run-event frames received in all during this command. */
  eventFrames: number
  /** Run events received per type (all connections; not counted in light mode). */
  types: Record<string, number>
  /** Connections checked × runs (deliveries that had to be complete). */
  deliveriesChecked: number
  /** Milliseconds from sending `chat` to run_accepted / first message_delta / agent_completed on the requesting connection. */
  acceptMs: number[]
  firstDeltaMs: number[]
  doneMs: number[]
  ms: number
  errors: string[]
}

export interface Counters {
  eventFrames: number
  eventBytes: number
  completedFrames: number
  /** performance.now() of the child: first and last run-event frame since the last reset. */
  firstAt: number
  lastAt: number
  openConnections: number
  unexpectedCloses: number
  errorFrames: number
}

/** Drives WebSocket clients living in a child Bun process. */
export class LoadClients {
  private constructor(private readonly child: CommandChild) {}

  static async spawn(): Promise<LoadClients> {
    const self = new LoadClients(CommandChild.spawn(import.meta.path, '--load-client', 'load client'))
    await self.call({ cmd: 'hello' })
    return self
  }

  get pid() {
    return this.child.pid
  }

  call<T = any>(command: Record<string, unknown>): Promise<T> {
    return this.child.call(command)
  }

  /** Opens `connsPerUser` authenticated sockets per user (waits for `ready`). */
  open(url: string, users: BenchUser[], connsPerUser = 1, concurrency = 50): Promise<OpenResult> {
    return this.call({
      cmd: 'open',
      url,
      users: users.map((u) => ({ id: u.id, token: u.token })),
      connsPerUser,
      concurrency,
    })
  }

  /** Closes the sockets of these users (all when omitted) and waits for the close. */
  closeConnections(userIds?: string[]): Promise<{ closed: number }> {
    return this.call({ cmd: 'close', userIds })
  }

  /** Runs chats and checks their delivery. `light`: count frames only (no per-event checks). */
  chat(jobs: ChatJob[], opts: { light?: boolean; timeoutMs?: number } = {}): Promise<ChatResult> {
    return this.call({ cmd: 'chat', jobs, light: opts.light ?? false, timeoutMs: opts.timeoutMs ?? 120_000 })
  }

  /**
   * Starts the scripted Ollama inside the load-client process: `fixed` streams `content` to
   * every call, `echo` is echoHandler(). Answers its URL; `fakeRequests()` counts its calls.
   */
  startFake(spec: FakeSpec): Promise<{ url: string }> {
    return this.call({ cmd: 'fake', spec })
  }

  fakeRequests(): Promise<number> {
    return this.call({ cmd: 'fakeRequests' })
  }

  counters(reset = false): Promise<Counters> {
    return this.call({ cmd: 'counters', reset })
  }

  waitFrames(expected: number, timeoutMs = 120_000): Promise<Counters> {
    return this.call({ cmd: 'waitFrames', expected, timeoutMs })
  }

  stop() {
    return this.child.stop(2000)
  }
}

// ----- the child side ------------------------------------------------------------------------

interface RunSeen {
  seen: Set<number>
  count: number
  duplicated: number
  outOfOrder: number
  last: number
  completedSeq?: number
  foreignInput: boolean
}

interface ClientConn {
  id: number
  userId: string
  ws: WebSocket
  readyAt?: number
  closedAt?: number
  openedAt: number
  expectedClose: boolean
  runs: Map<string, RunSeen>
  requests: Map<string, (frame: any) => void>
}

interface RunRecord {
  userId: string
  connId: number
  requestId: string
  runId?: string
  threadId?: string
  sentAt: number
  acceptedAt?: number
  firstDeltaAt?: number
  doneAt?: number
  status?: string
  onDone?: () => void
}

function runLoadClient() {
  const conns: ClientConn[] = []
  const byUser = new Map<string, ClientConn[]>()
  const runs = new Map<string, RunRecord>()
  const runOwner = new Map<string, string>()
  let light = false
  let requestSeq = 0
  let connSeq = 0
  const counters: Counters = {
    eventFrames: 0,
    eventBytes: 0,
    completedFrames: 0,
    firstAt: 0,
    lastAt: 0,
    openConnections: 0,
    unexpectedCloses: 0,
    errorFrames: 0,
  }
  const errors: string[] = []
  let frameWaiter: { expected: number; resolve: () => void } | undefined
  let types: Record<string, number> = {}
  const note = (msg: string) => {
    if (errors.length < 20) errors.push(msg)
  }

  function onRunEvent(conn: ClientConn, ev: any) {
    const runId: string = ev.runId
    let seen = conn.runs.get(runId)
    if (!seen)
      conn.runs.set(
        runId,
        (seen = { seen: new Set(), count: 0, duplicated: 0, outOfOrder: 0, last: 0, foreignInput: false }),
      )
    seen.count++
    types[ev.type] = (types[ev.type] ?? 0) + 1
    if (seen.seen.has(ev.seq)) seen.duplicated++
    else seen.seen.add(ev.seq)
    if (ev.seq <= seen.last) seen.outOfOrder++
    seen.last = Math.max(seen.last, ev.seq)
    if (ev.type === 'agent_started' && typeof ev.input === 'string' && !ev.input.includes(`[u:${conn.userId}]`))
      seen.foreignInput = true
    if (ev.type === 'agent_completed') seen.completedSeq = ev.seq
    const rec = runs.get(runId)
    if (rec && rec.connId === conn.id) {
      const now = performance.now()
      if (ev.type === 'message_delta') rec.firstDeltaAt ??= now
      if (ev.type === 'agent_completed') {
        rec.doneAt = now
        rec.status = ev.status
        rec.onDone?.()
      }
    }
  }

  function onFrame(conn: ClientConn, data: string) {
    const isEvent = data.includes('"seq":')
    if (isEvent) {
      const now = performance.now()
      counters.eventFrames++
      counters.eventBytes += data.length
      if (counters.firstAt === 0) counters.firstAt = now
      counters.lastAt = now
      const completed = data.startsWith('{"type":"agent_completed"')
      if (completed) counters.completedFrames++
      if (frameWaiter && counters.eventFrames >= frameWaiter.expected) {
        frameWaiter.resolve()
        frameWaiter = undefined
      }
      if (light && !completed) return
      onRunEvent(conn, JSON.parse(data))
      return
    }
    const frame = JSON.parse(data)
    switch (frame.type) {
      case 'ready':
        if (frame.userId !== conn.userId) note(`ready for ${frame.userId} on a connection of ${conn.userId}`)
        conn.readyAt = performance.now()
        conn.requests.get('#ready')?.(frame)
        break
      case 'run_accepted':
      case 'error':
        if (frame.type === 'error') {
          counters.errorFrames++
          if (frame.code !== 'too_many_runs' && frame.code !== 'server_busy')
            note(`error frame ${frame.code}: ${frame.message}`)
        }
        if (frame.requestId && conn.requests.has(frame.requestId)) conn.requests.get(frame.requestId)!(frame)
        break
      default:
        break // pong, auth_ok, token_expiring
    }
  }

  function connect(url: string, userId: string, token: string): Promise<ClientConn> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url)
      const conn: ClientConn = {
        id: ++connSeq,
        userId,
        ws,
        openedAt: performance.now(),
        expectedClose: false,
        runs: new Map(),
        requests: new Map(),
      }
      const timer = setTimeout(() => reject(new Error('no ready within 30 s')), 30_000)
      conn.requests.set('#ready', () => {
        clearTimeout(timer)
        conn.requests.delete('#ready')
        resolve(conn)
      })
      ws.addEventListener('open', () => ws.send(JSON.stringify({ type: 'auth', token })))
      ws.addEventListener('message', (e) => {
        try {
          onFrame(conn, typeof e.data === 'string' ? e.data : String(e.data))
        } catch (error) {
          note(`bad frame: ${String(error)}`)
        }
      })
      ws.addEventListener('error', () => {
        clearTimeout(timer)
        reject(new Error('socket error'))
      })
      ws.addEventListener('close', (e) => {
        conn.closedAt = performance.now()
        counters.openConnections = Math.max(0, counters.openConnections - (conn.readyAt ? 1 : 0))
        if (!conn.expectedClose) {
          counters.unexpectedCloses++
          note(`connection of ${userId} closed unexpectedly: ${e.code} ${e.reason}`)
        }
        const i = conns.indexOf(conn)
        if (i >= 0) conns.splice(i, 1)
        const list = byUser.get(userId)
        if (list) {
          const j = list.indexOf(conn)
          if (j >= 0) list.splice(j, 1)
          if (list.length === 0) byUser.delete(userId)
        }
        conn.requests.get('#closed')?.({})
        clearTimeout(timer)
        reject(new Error(`closed ${e.code} before ready`))
      })
    })
  }

  async function open(cmd: any): Promise<OpenResult> {
    const started = performance.now()
    const tasks: { id: string; token: string }[] = []
    for (const u of cmd.users) for (let c = 0; c < cmd.connsPerUser; c++) tasks.push(u)
    let opened = 0
    let failed = 0
    const errs: string[] = []
    await mapLimit(tasks, cmd.concurrency, async (u) => {
      try {
        const conn = await connect(cmd.url, u.id, u.token)
        conns.push(conn)
        let list = byUser.get(u.id)
        if (!list) byUser.set(u.id, (list = []))
        list.push(conn)
        counters.openConnections++
        opened++
      } catch (error) {
        failed++
        if (errs.length < 5) errs.push(String(error))
      }
    })
    return { opened, failed, ms: performance.now() - started, errors: errs }
  }

  async function close(cmd: any) {
    const targets = cmd.userIds ? cmd.userIds.flatMap((id: string) => byUser.get(id) ?? []) : [...conns]
    await Promise.all(
      targets.map(
        (conn: ClientConn) =>
          new Promise<void>((resolve) => {
            conn.expectedClose = true
            if (conn.closedAt !== undefined) return resolve()
            const timer = setTimeout(resolve, 5000)
            conn.requests.set('#closed', () => {
              clearTimeout(timer)
              resolve()
            })
            conn.ws.close(1000, 'bench done')
          }),
      ),
    )
    return { closed: targets.length }
  }

  /** One chat on `conn`; retried when refused for being over a cap. */
  async function sendChat(
    conn: ClientConn,
    job: ChatJob,
    content: string,
    threadId: string | undefined,
    deadline: number,
    result: ChatResult,
  ): Promise<RunRecord | undefined> {
    for (let attempt = 0; ; attempt++) {
      const requestId = `q${++requestSeq}`
      const rec: RunRecord = { userId: conn.userId, connId: conn.id, requestId, sentAt: performance.now() }
      const answer = await new Promise<any>((resolve) => {
        const timer = setTimeout(() => resolve({ type: 'timeout' }), Math.max(1, deadline - performance.now()))
        conn.requests.set(requestId, (frame) => {
          clearTimeout(timer)
          conn.requests.delete(requestId)
          if (frame.type === 'run_accepted') {
            rec.runId = frame.runId
            rec.threadId = frame.threadId
            rec.acceptedAt = performance.now()
            runs.set(frame.runId, rec)
            runOwner.set(frame.runId, conn.userId)
          }
          resolve(frame)
        })
        conn.ws.send(
          JSON.stringify({
            type: 'chat',
            requestId,
            content,
            ...(threadId && { threadId }),
            ...(job.agent && { agent: job.agent }),
          }),
        )
      })
      if (answer.type === 'run_accepted') return rec
      if (
        answer.type === 'error' &&
        (answer.code === 'too_many_runs' || answer.code === 'server_busy') &&
        performance.now() < deadline
      ) {
        result.refused++
        await Bun.sleep(5 + attempt * 5)
        continue
      }
      note(
        answer.type === 'timeout'
          ? `chat of ${conn.userId} not accepted in time`
          : `chat refused: ${answer.code} ${answer.message}`,
      )
      return undefined
    }
  }

  async function chat(cmd: any): Promise<ChatResult> {
    light = cmd.light
    const started = performance.now()
    const deadline = started + cmd.timeoutMs
    const framesBefore = counters.eventFrames
    types = {}
    const result: ChatResult = {
      runs: 0,
      completed: 0,
      statuses: {},
      refused: 0,
      incomplete: 0,
      lost: 0,
      duplicated: 0,
      outOfOrder: 0,
      misdelivered: 0,
      eventFrames: 0,
      types: {},
      deliveriesChecked: 0,
      acceptMs: [],
      firstDeltaMs: [],
      doneMs: [],
      ms: 0,
      errors: [],
    }
    const mine: RunRecord[] = []
    const connsAtStart = new Set(conns)
    let k = 0
    await Promise.all(
      (cmd.jobs as ChatJob[]).flatMap((job) => {
        const userConns = byUser.get(job.userId) ?? []
        if (userConns.length === 0) {
          note(`no open connection for ${job.userId}`)
          return []
        }
        const lanes = Math.max(1, Math.min(job.concurrency ?? 1, job.runs))
        let nextRun = 0
        return Array.from({ length: lanes }, async (_, lane) => {
          let threadId: string | undefined
          if (job.staggerMs) await Bun.sleep(Math.random() * job.staggerMs)
          while (nextRun < job.runs && performance.now() < deadline) {
            const n = nextRun++
            const conn = userConns[(lane + n) % userConns.length]
            if (!conn || conn.closedAt !== undefined) break
            const tool = job.toolEvery ? n % job.toolEvery === 0 : false
            const content = `[u:${job.userId}] run ${++k}${tool ? ' [tool]' : ''}${job.extra ?? ''}`
            const rec = await sendChat(
              conn,
              tool ? { ...job, agent: job.agent ?? 'planner' } : job,
              content,
              job.reuseThread ? threadId : undefined,
              deadline,
              result,
            )
            if (!rec) continue
            mine.push(rec)
            threadId ??= rec.threadId
            if (rec.doneAt === undefined) {
              await new Promise<void>((resolve) => {
                const timer = setTimeout(resolve, Math.max(1, deadline - performance.now()))
                rec.onDone = () => {
                  clearTimeout(timer)
                  resolve()
                }
              })
            }
            if (job.thinkMs) await Bun.sleep(job.thinkMs[0] + Math.random() * (job.thinkMs[1] - job.thinkMs[0]))
          }
        })
      }),
    )

    // Every connection of each owner must also have the end of each run.
    const ownersConns = (rec: RunRecord) =>
      (byUser.get(rec.userId) ?? []).filter((c) => connsAtStart.has(c) || c.openedAt <= rec.sentAt)
    const allDone = () =>
      mine.every((rec) => ownersConns(rec).every((c) => c.runs.get(rec.runId!)?.completedSeq !== undefined))
    const settleUntil = Math.min(deadline, performance.now() + 10_000)
    while (!allDone() && performance.now() < settleUntil) await Bun.sleep(10)

    for (const rec of mine) {
      result.runs++
      if (rec.doneAt === undefined) {
        result.incomplete++
        note(`run ${rec.runId} of ${rec.userId}: no agent_completed on its connection`)
      } else {
        result.completed++
        result.statuses[rec.status!] = (result.statuses[rec.status!] ?? 0) + 1
        result.acceptMs.push(rec.acceptedAt! - rec.sentAt)
        if (rec.firstDeltaAt !== undefined) result.firstDeltaMs.push(rec.firstDeltaAt - rec.sentAt)
        result.doneMs.push(rec.doneAt - rec.sentAt)
      }
      if (light) continue
      const requester = conns.find((c) => c.id === rec.connId)
      const n =
        requester?.runs.get(rec.runId!)?.completedSeq ??
        Math.max(0, ...ownersConns(rec).map((c) => c.runs.get(rec.runId!)?.last ?? 0))
      for (const c of ownersConns(rec)) {
        if (c.closedAt !== undefined) continue // closed by us before the check: nothing owed
        result.deliveriesChecked++
        const seen = c.runs.get(rec.runId!)
        let have = 0
        for (let s = 1; s <= n; s++) if (seen?.seen.has(s)) have++
        result.lost += n - have
        if (seen) {
          result.duplicated += seen.duplicated
          result.outOfOrder += seen.outOfOrder
          for (const s of seen.seen) if (s > n) result.duplicated++ // past agent_completed
        }
      }
    }
    if (!light) {
      for (const c of conns) {
        for (const [runId, seen] of c.runs) {
          const owner = runOwner.get(runId)
          if (owner !== c.userId) {
            result.misdelivered += seen.count
            note(
              `connection of ${c.userId} received ${seen.count} events of run ${runId} (owner ${owner ?? 'unknown'})`,
            )
          } else if (seen.foreignInput) {
            result.misdelivered++
            note(`connection of ${c.userId} got a run whose input names another user`)
          }
        }
      }
    }
    // Forget what was checked (the leak benchmark runs 20,000 of these).
    for (const c of conns) c.runs.clear()
    for (const rec of mine) if (rec.runId) runs.delete(rec.runId)
    if (runOwner.size > 50_000) runOwner.clear()
    result.eventFrames = counters.eventFrames - framesBefore
    result.types = types
    result.ms = performance.now() - started
    result.errors = errors.splice(0)
    return result
  }

  let fake: FakeOllama | undefined

  answerCommands(
    {
      hello: () => ({ pid: process.pid }),
      fake: async (cmd) => {
        const { startFakeOllama } = await import('../../../src/testing/fake-ollama')
        const spec = cmd.spec
        const handler: ChatHandler =
          spec.mode === 'fixed'
            ? () => ({
                content: spec.content,
                chunkSize: spec.chunkSize,
                chunkDelayMs: spec.chunkDelayMs,
                firstChunkDelayMs: spec.firstChunkDelayMs,
              })
            : echoHandler(spec)
        fake = await startFakeOllama({ handler })
        return { url: fake.url }
      },
      fakeRequests: () => fake?.requests.length ?? 0,
      open,
      close,
      chat,
      counters: (cmd) => {
        const out = { ...counters, openConnections: conns.length }
        if (cmd.reset)
          Object.assign(counters, {
            eventFrames: 0,
            eventBytes: 0,
            completedFrames: 0,
            firstAt: 0,
            lastAt: 0,
            errorFrames: 0,
          })
        return out
      },
      waitFrames: async (cmd) => {
        if (counters.eventFrames < cmd.expected) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, cmd.timeoutMs)
            frameWaiter = {
              expected: cmd.expected,
              resolve: () => {
                clearTimeout(timer)
                resolve()
              },
            }
          })
          frameWaiter = undefined
        }
        return { ...counters, openConnections: conns.length }
      },
    },
    () => fake?.close(),
  )
}

if (import.meta.main && process.argv.includes('--load-client')) runLoadClient()
