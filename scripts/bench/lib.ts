/**
 * Shared helpers of the benchmarks (scripts/bench/*.ts) and the soak test (scripts/soak.ts).
 *
 *  - startBenchServer(): the real server (startServer(loadConfig(...))) on 127.0.0.1:0 with a
 *    temp-file database, wired to the scripted Ollama of src/testing/fake-ollama.ts.
 *  - makeUsers(): a few users registered through HTTP (argon2, limited concurrency), the rest
 *    created with the users repository + accessTokens.sign of the running server (say so).
 *  - LoadClients: the WebSocket clients live in a child process (`bun lib.ts --load-client`),
 *    driven over Bun's IPC, so their CPU and memory are not counted as the server's; the
 *    scripted model can run in a third process (startModelProcess), like a real Ollama. The child
 *    checks every run it sees: seq 1..n complete on every connection of the owner, no
 *    duplicate, and nothing of another user's runs (misdelivered).
 *  - percentiles, memory sampling after Bun.gc(true), a results writer (results.jsonl + table).
 *
 * Nothing here asserts a timing: the scripts print figures and ratios against a baseline
 * measured in the same run.
 */
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import type { RunningServer } from '../../src/app'
import type { ChatHandler, FakeOllama, FakeOllamaOptions } from '../../src/testing/fake-ollama'

// ---------------------------------------------------------------------------------------------
// Command line

/** `--name value` or `--name=value`; the fallback when absent. */
export function arg(name: string, fallback: string): string
export function arg(name: string, fallback?: string): string | undefined
export function arg(name: string, fallback?: string): string | undefined {
  const args = process.argv.slice(2)
  const i = args.indexOf(`--${name}`)
  if (i >= 0 && args[i + 1] !== undefined) return args[i + 1]
  return args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback
}

/** Several whole-number flags at once: `intArgs({ users: 50, runs: 4 })` reads --users and --runs. */
export function intArgs<K extends string>(defaults: Record<K, number>): Record<K, number> {
  return Object.fromEntries(
    Object.entries<number>(defaults).map(([name, fallback]) => [name, intArg(name, fallback)]),
  ) as Record<K, number>
}

export function intArg(name: string, fallback: number): number {
  const raw = arg(name)
  if (raw === undefined) return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 0) {
    console.error(`--${name} must be a whole number ≥ 0, got ${raw}`)
    process.exit(2)
  }
  return n
}

// ---------------------------------------------------------------------------------------------
// Machine

export interface MachineInfo {
  nproc: number
  cpuModel: string
  memTotalMiB: number
  bun: string
  bunRevision: string
  os: string
  fdLimit: string
  gitRev: string
}

function sh(command: string): string {
  try {
    const out = Bun.spawnSync(['sh', '-c', command], { stdout: 'pipe', stderr: 'ignore' })
    return out.stdout.toString().trim()
  } catch {
    return ''
  }
}

let machineCache: MachineInfo | undefined
export function machine(): MachineInfo {
  machineCache ??= {
    nproc: Number(sh('nproc')) || navigator.hardwareConcurrency || cpus().length,
    cpuModel: cpus()[0]?.model?.trim() ?? 'unknown',
    memTotalMiB: Math.round(totalmem() / 2 ** 20),
    bun: Bun.version,
    bunRevision: Bun.revision.slice(0, 9),
    os: `${process.platform} ${release()}`,
    fdLimit: sh('ulimit -n'),
    gitRev: `${sh('git rev-parse --short HEAD') || 'unknown'}${sh('git status --porcelain --untracked-files=no') ? ' (+ uncommitted changes)' : ''}`,
  }
  return machineCache
}

export function printMachine(title: string) {
  const m = machine()
  console.log(`\n=== ${title} ===`)
  console.log(
    `machine: ${m.nproc} cores (${m.cpuModel}), ${m.memTotalMiB} MiB RAM, bun ${m.bun} (${m.bunRevision}), ${m.os}, ulimit -n ${m.fdLimit}, code ${m.gitRev}`,
  )
  console.log(
    `load average at start: ${load()} (other processes on the machine skew every figure; compare runs at similar load)`,
  )
}

/** 1/5/15-minute load averages. */
export const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ')
const startLoad = load()

// ---------------------------------------------------------------------------------------------
// Server under test

export interface BenchServer {
  server: RunningServer
  /** The scripted Ollama when it runs in this process (absent with `ollamaUrl`). */
  fake?: FakeOllama
  url: string
  wsUrl: string
  dataDir: string
  env: Record<string, string>
  close(): Promise<void>
}

/**
 * Settings that keep the benchmarks about the server, not about its limits: many model slots
 * and a long model queue (the fairness benchmark overrides them), generous run caps.
 * Variables a server version does not know are ignored by loadConfig.
 */
export const BENCH_ENV: Record<string, string> = {
  LOG_LEVEL: 'error',
  SHUTDOWN_GRACE_MS: '0',
  OLLAMA_SLOTS: '256',
  LLM_QUEUE_MAX: '100000',
  LLM_QUEUE_PER_USER: '1000',
  LOGIN_RATE_LIMIT: '100000',
  REGISTER_RATE_LIMIT: '1000000', // every bench user registers from one address
  ACCESS_TOKEN_TTL: '3600',
}

/**
 * The real server, in this process, with a temp-file database and the scripted Ollama — in
 * this process too (`handler`), or, with `ollamaUrl`, one running in another process
 * (startModelProcess), so its streaming costs no CPU of the server's process (like a real Ollama).
 */
export async function startBenchServer(
  opts: {
    env?: Record<string, string>
    handler?: ChatHandler
    fake?: Omit<FakeOllamaOptions, 'handler'>
    ollamaUrl?: string
  } = {},
): Promise<BenchServer> {
  const { startFakeOllama } = await import('../../src/testing/fake-ollama')
  const { loadConfig } = await import('../../src/config')
  const { startServer } = await import('../../src/app')
  const fake = opts.ollamaUrl ? undefined : await startFakeOllama({ ...opts.fake, handler: opts.handler })
  const dataDir = mkdtempSync(join(tmpdir(), 'chat-bench-'))
  const env: Record<string, string> = {
    HOST: '127.0.0.1',
    PORT: '0',
    DATABASE_URL: `file:${join(dataDir, 'chat.db')}`,
    DATA_DIR: dataDir,
    JWT_SECRET: `bench-secret-${crypto.randomUUID()}-0123456789abcdef`,
    OLLAMA_HOST: opts.ollamaUrl ?? fake!.url,
    ...BENCH_ENV,
    ...opts.env,
  }
  const server = await startServer(loadConfig(env))
  return {
    server,
    fake,
    url: server.url,
    wsUrl: server.url.replace(/^http/, 'ws') + '/ws',
    dataDir,
    env,
    async close() {
      await server.stop()
      await fake?.close()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

/** The last user message of a model request (what the scripted model answers to). */
export const lastUserText = (messages: { role: string; content: string }[]) =>
  [...messages].reverse().find((m) => m.role === 'user')?.content ?? ''

/**
 * The scripted model of the validation runs: echoes the question; a question containing
 * `[tool]` gets one `calculate` tool call first (when the agent offers it), so those runs
 * carry all five critical events.
 */
export function echoHandler(
  opts: { chunkSize?: number; chunkDelayMs?: number; firstChunkDelayMs?: number; padding?: number } = {},
): ChatHandler {
  const pad = ' lorem ipsum dolor sit amet'.repeat(Math.ceil((opts.padding ?? 0) / 27)).slice(0, opts.padding ?? 0)
  return (req) => {
    const text = lastUserText(req.messages)
    const toolOffered = req.tools?.some((t: any) => t?.function?.name === 'calculate')
    const toolDone = req.messages.some((m: any) => m.role === 'tool')
    if (text.includes('[tool]') && toolOffered && !toolDone)
      return {
        toolCalls: [{ name: 'calculate', arguments: { expression: '6*7' } }],
        firstChunkDelayMs: opts.firstChunkDelayMs,
      }
    return {
      content: `echo: ${text}${pad}`,
      chunkSize: opts.chunkSize ?? 4,
      chunkDelayMs: opts.chunkDelayMs ?? 0,
      firstChunkDelayMs: opts.firstChunkDelayMs ?? 0,
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Users

export interface BenchUser {
  id: string
  token: string
  via: 'http' | 'minted'
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length)
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++
        out[i] = await fn(items[i], i)
      }
    }),
  )
  return out
}

/** Registers through POST /api/auth/register (argon2id per user: keep `concurrency` low). */
export async function registerUsersHttp(
  url: string,
  count: number,
  prefix = 'bench',
  concurrency = 2,
): Promise<BenchUser[]> {
  const stamp = Date.now().toString(36)
  return mapLimit(
    Array.from({ length: count }, (_, i) => i),
    concurrency,
    async (i) => {
      const res = await fetch(`${url}/api/auth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          email: `${prefix}-${stamp}-${i}@bench.test`,
          password: `pw-${crypto.randomUUID()}`,
          name: `${prefix}${i}`,
        }),
      })
      if (res.status !== 201) throw new Error(`register failed: ${res.status} ${await res.text()}`)
      const body = (await res.json()) as { user: { id: string }; accessToken: string }
      return { id: body.user.id, token: body.accessToken, via: 'http' as const }
    },
  )
}

/**
 * Creates accounts with the server's own users repository and signs their access tokens with
 * its own accessTokens: the same rows and tokens registration makes, minus the argon2 hash
 * (these accounts have no password and can only use the token).
 */
export async function mintUsers(server: RunningServer, count: number, prefix = 'minted'): Promise<BenchUser[]> {
  const stamp = Date.now().toString(36)
  return mapLimit(
    Array.from({ length: count }, (_, i) => i),
    8,
    async (i) => {
      const row = await server.services.repos.users.create(
        { email: `${prefix}-${stamp}-${i}@bench.test`, name: `${prefix}${i}` },
        true,
      )
      if (typeof row === 'string') throw new Error(`could not create a user: ${row}`)
      const { token } = await server.services.access.sign({ id: row.id, role: row.role })
      return { id: row.id, token, via: 'minted' as const }
    },
  )
}

/** `httpCount` users through the real registration, the rest minted; prints how. */
export async function makeUsers(
  bs: BenchServer,
  count: number,
  opts: { httpCount?: number; concurrency?: number; prefix?: string } = {},
): Promise<BenchUser[]> {
  const started = performance.now()
  const httpCount = Math.min(count, opts.httpCount ?? count)
  const viaHttp = await registerUsersHttp(bs.url, httpCount, opts.prefix ?? 'bench', opts.concurrency ?? 2)
  const httpMs = performance.now() - started
  const minted = await mintUsers(bs.server, count - httpCount, opts.prefix ?? 'minted')
  const total = performance.now() - started
  console.log(
    `users: ${count} — ${httpCount} registered through POST /api/auth/register (argon2id, ${opts.concurrency ?? 2} at a time, ${fmtMs(httpMs)})` +
      (minted.length
        ? `, ${minted.length} created with server.services.repos.users.create + server.services.access.sign (no password hash; same user rows and JWTs)`
        : '') +
      ` in ${fmtMs(total)}`,
  )
  return [...viaHttp, ...minted]
}

// ---------------------------------------------------------------------------------------------
// Numbers

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]
}

export interface Summary {
  n: number
  min: number
  p50: number
  p95: number
  p99: number
  max: number
  mean: number
}

export function summarize(values: number[]): Summary {
  const s = [...values].sort((a, b) => a - b)
  const mean = s.reduce((a, b) => a + b, 0) / (s.length || 1)
  return {
    n: s.length,
    min: s[0] ?? Number.NaN,
    p50: percentile(s, 50),
    p95: percentile(s, 95),
    p99: percentile(s, 99),
    max: s.at(-1) ?? Number.NaN,
    mean,
  }
}

export const round = (n: number, digits = 2) => (Number.isFinite(n) ? Math.round(n * 10 ** digits) / 10 ** digits : n)
export const fmtMs = (ms: number) =>
  ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : ms >= 100 ? `${Math.round(ms)} ms` : `${ms.toFixed(2)} ms`
export function fmtBytes(bytes: number): string {
  const abs = Math.abs(bytes)
  if (abs >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(2)} GiB`
  if (abs >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MiB`
  if (abs >= 2 ** 10) return `${(bytes / 2 ** 10).toFixed(1)} KiB`
  return `${Math.round(bytes)} B`
}
export const fmtRate = (perSecond: number) => `${Math.round(perSecond).toLocaleString('en-US')}/s`

// ---------------------------------------------------------------------------------------------
// Memory

export interface MemorySample {
  rss: number
  heapUsed: number
  /** JSC heap size and live objects (bun:jsc heapStats). */
  heapSize: number
  objects: number
  external: number
  /** Linux /proc/self/status split of RSS: anonymous (malloc, JS heap), file-backed (mapped files, code), shared memory (SQLite's WAL index). */
  rssAnon?: number
  rssFile?: number
  rssShmem?: number
}

function rssSplit(): Pick<MemorySample, 'rssAnon' | 'rssFile' | 'rssShmem'> {
  try {
    const status = readFileSync('/proc/self/status', 'utf8')
    const kb = (name: string) => {
      const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)
      return m ? Number(m[1]) * 1024 : undefined
    }
    return { rssAnon: kb('RssAnon'), rssFile: kb('RssFile'), rssShmem: kb('RssShmem') }
  } catch {
    return {}
  }
}

/** Memory of this process after full collections (three, with pauses for finalisers and timers). */
export async function memory(): Promise<MemorySample> {
  const { heapStats } = await import('bun:jsc')
  for (let i = 0; i < 3; i++) {
    Bun.gc(true)
    await Bun.sleep(30)
  }
  const usage = process.memoryUsage()
  const stats = heapStats()
  return {
    rss: usage.rss,
    heapUsed: usage.heapUsed,
    heapSize: stats.heapSize,
    objects: stats.objectCount,
    external: usage.external,
    ...rssSplit(),
  }
}

/** Live objects per type (bun:jsc), after full collections. */
export async function objectTypeCounts(): Promise<Record<string, number>> {
  const { heapStats } = await import('bun:jsc')
  Bun.gc(true)
  return { ...heapStats().objectTypeCounts }
}

/** The types whose live count grew most from `a` to `b`. */
export function typeGrowth(a: Record<string, number>, b: Record<string, number>, top = 8): [string, number][] {
  return Object.keys({ ...a, ...b })
    .map((k) => [k, (b[k] ?? 0) - (a[k] ?? 0)] as [string, number])
    .filter(([, d]) => d !== 0)
    .sort((x, y) => y[1] - x[1])
    .slice(0, top)
}

export const fmtMemory = (m: MemorySample) =>
  `rss ${fmtBytes(m.rss)}${m.rssAnon !== undefined ? ` (anon ${fmtBytes(m.rssAnon)}, file ${fmtBytes(m.rssFile ?? 0)}, shmem ${fmtBytes(m.rssShmem ?? 0)})` : ''}, heap used ${fmtBytes(m.heapUsed)}, heap size ${fmtBytes(m.heapSize)}, ${m.objects.toLocaleString('en-US')} objects`

// ---------------------------------------------------------------------------------------------
// Results

export interface TargetResult {
  name: string
  value: number | string
  target: string
  /** undefined: informational, no target. */
  met?: boolean
}

const RESULTS_FILE = join(import.meta.dir, 'results.jsonl')

export function printTable(rows: (string | number)[][], header?: string[]) {
  const all = header ? [header, ...rows] : rows
  const widths = all[0].map((_, c) => Math.max(...all.map((r) => String(r[c] ?? '').length)))
  const line = (r: (string | number)[]) =>
    r
      .map((v, c) => String(v ?? '').padEnd(widths[c]))
      .join('  ')
      .trimEnd()
  if (header) {
    console.log(line(header))
    console.log(widths.map((w) => '-'.repeat(w)).join('  '))
  }
  for (const r of rows) console.log(line(r))
}

/** Appends one JSON line for this run to scripts/bench/results.jsonl and prints the targets. */
export function recordResult(
  bench: string,
  data: { command: string; params: Record<string, unknown>; figures: Record<string, unknown>; targets: TargetResult[] },
) {
  const entry = {
    bench,
    at: new Date().toISOString(),
    machine: machine(),
    loadAverage: { start: startLoad, end: load() },
    ...data,
  }
  appendFileSync(RESULTS_FILE, JSON.stringify(entry) + '\n')
  console.log('')
  printTable(
    data.targets.map((t) => [t.name, String(t.value), t.target, t.met === undefined ? '—' : t.met ? 'met' : 'MISSED']),
    ['figure', 'measured', 'target', 'result'],
  )
  console.log(`\nload average at end: ${load()} (appended to scripts/bench/results.jsonl)`)
}

/** The command line that ran this script, for the results file. */
export function commandLine(script: string): string {
  const extra = process.argv.slice(2).join(' ')
  return `bun run ${script}${extra ? ` ${extra}` : ''}`
}

// ---------------------------------------------------------------------------------------------
// The scripted model in its own process

export type FakeSpec =
  | { mode: 'fixed'; content: string; chunkSize?: number; chunkDelayMs?: number; firstChunkDelayMs?: number }
  | { mode: 'echo'; chunkSize?: number; chunkDelayMs?: number; firstChunkDelayMs?: number; padding?: number }

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
  #next = 0
  readonly #pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>()

  private constructor(private readonly proc: ReturnType<typeof Bun.spawn>) {}

  static async spawn(): Promise<LoadClients> {
    let self: LoadClients | undefined
    const proc = Bun.spawn(['bun', import.meta.path, '--load-client'], {
      stdout: 'inherit',
      stderr: 'inherit',
      ipc(message: any) {
        const waiter = self ? self.#pending.get(message.id) : undefined
        if (!waiter) return
        self!.#pending.delete(message.id)
        if (message.ok) waiter.resolve(message.result)
        else waiter.reject(new Error(`load client: ${message.error}`))
      },
    })
    self = new LoadClients(proc)
    void proc.exited.then((code) => {
      for (const w of self!.#pending.values()) w.reject(new Error(`load client exited with ${code}`))
      self!.#pending.clear()
    })
    await self.call({ cmd: 'hello' })
    return self
  }

  get pid() {
    return this.proc.pid
  }

  call<T = any>(command: Record<string, unknown>): Promise<T> {
    const id = ++this.#next
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject })
      this.proc.send({ id, ...command })
    })
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

  async stop() {
    try {
      await Promise.race([this.call({ cmd: 'exit' }), Bun.sleep(2000)])
    } catch {}
    this.proc.kill()
    await this.proc.exited
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

  async function handle(cmd: any): Promise<unknown> {
    switch (cmd.cmd) {
      case 'hello':
        return { pid: process.pid }
      case 'fake': {
        const { startFakeOllama } = await import('../../src/testing/fake-ollama')
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
      }
      case 'fakeRequests':
        return fake?.requests.length ?? 0
      case 'open':
        return open(cmd)
      case 'close':
        return close(cmd)
      case 'chat':
        return chat(cmd)
      case 'counters': {
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
      }
      case 'waitFrames': {
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
      }
      case 'exit':
        await fake?.close()
        setTimeout(() => process.exit(0), 10)
        return {}
      default:
        throw new Error(`unknown command ${cmd.cmd}`)
    }
  }

  answerCommands(handle)
}

if (import.meta.main && process.argv.includes('--load-client')) runLoadClient()

/**
 * The command loop of a benchmark's child process: each IPC message is a command, answered with
 * `{id, ok, result}` or `{id, ok: false, error}`; the child exits when its parent goes away.
 */
export function answerCommands(handle: (cmd: any) => Promise<unknown>) {
  process.on('message', (message: any) => {
    handle(message).then(
      (result) => process.send!({ id: message.id, ok: true, result }),
      (error) => process.send!({ id: message.id, ok: false, error: String(error?.stack ?? error) }),
    )
  })
  process.on('disconnect', () => process.exit(0))
}

/**
 * A benchmark's outer frame: runs `body` (its result is the exit code, 0 when it returns
 * nothing), reports a crash as "<what> failed" (exit code 1), always runs `stops` in order,
 * then exits the process.
 */
export async function runBenchmark(
  what: string,
  body: () => Promise<number | undefined>,
  stops: (() => unknown)[],
): Promise<never> {
  let exitCode = 1
  try {
    exitCode = (await body()) ?? 0
  } catch (error) {
    console.error(`${what} failed:`, error)
  } finally {
    for (const stop of stops) await stop()
  }
  process.exit(exitCode)
}
