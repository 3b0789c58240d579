/**
 * A local cluster for the tests in tests/cluster: N real server processes (the real entry point,
 * `bun run src/index.ts`, through spawnServer) in cluster mode (`REDIS_URL`), one shared temp
 * database file, one JWT secret, and one scripted Ollama in the test process that they all use.
 *
 *   const cluster = await startCluster({ nodes: 3, handler })
 *   const [alice] = await cluster.register(1, 'alice')
 *   const onA = await cluster.connect(alice, 0)   // a socket on process 0
 *   const onB = await cluster.connect(alice, 1)   // the same user on process 1
 *
 * Processes can be killed (`node.kill()`, SIGKILL) and Redis restarted (`cluster.redis`).
 */
import { afterAll, beforeAll, describe } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnServer, type ChildServer } from './child-server'
import { startFakeOllama, type ChatHandler, type FakeOllama } from './fake-ollama'
import { redisAvailable, startRedis, type TestRedis, warnIfNoRedis } from './redis'
import type { TestUser } from './users'
import { WsClient } from './ws-client'
import { later } from './fixtures'
export { eventually } from './eventually'

export interface ClusterNode {
  index: number
  /** NODE_ID of the process (what its runs record and its heartbeat key names). */
  nodeId: string
  child: ChildServer
  /** http://127.0.0.1:<port> */
  base: string
  wsUrl: string
  /** Every stderr line read so far. */
  stderr: string[]
  /** True until the process exited. */
  readonly alive: boolean
  /** kill -9 (default) or another signal; resolves once it exited. */
  kill(signal?: NodeJS.Signals): Promise<number | null>
}

export interface ApiOptions {
  token?: string
  body?: unknown
  method?: string
}

/**
 * For a describe block: a cluster with `users` registered (`name`0, `name`1, …), closed after.
 *   const { cluster, users: [alice, bob] } = useCluster({ nodes: 2 }, 2, 'docs')
 */
export function useCluster(
  opts: ClusterOptions,
  userCount: number,
  name: string,
): { cluster: TestCluster; users: TestUser[] } {
  let cluster: TestCluster | undefined
  const users: TestUser[] = []
  beforeAll(async () => {
    cluster = await startCluster(opts)
    users.push(...(await cluster.register(userCount, name)))
  })
  afterAll(() => cluster?.close())
  return {
    cluster: later('the cluster', () => cluster),
    users: Array.from({ length: userCount }, (_, i) => later(`${name} user ${i}`, () => users[i])),
  }
}

export interface DescribeClusterOptions extends ClusterOptions {
  /** How many users to register once the cluster is up (`userName`0, `userName`1, …). */
  users: number
  userName: string
}

/**
 * A describe block whose tests share one cluster with users (useCluster), skipped with a warning
 * where there is no redis-server:
 *   const CLUSTER = { nodes: 2, users: 2, userName: 'docs' }
 *   describeCluster('document status', CLUSTER, ({ cluster, users: [alice, bob] }) => { … })
 */
export function describeCluster(
  title: string,
  opts: DescribeClusterOptions,
  body: (fixture: ReturnType<typeof useCluster>) => void,
) {
  warnIfNoRedis(title)
  describe.skipIf(!redisAvailable)(title, () => {
    const { users, userName, ...clusterOpts } = opts
    body(useCluster(clusterOpts, users, userName))
  })
}

export interface TestCluster {
  redis: TestRedis
  ollama: FakeOllama
  nodes: ClusterNode[]
  /** The shared database URL (file:…). */
  databaseUrl: string
  /** fetch against one process; JSON body in, Response out. */
  api(node: number, path: string, opts?: ApiOptions): Promise<Response>
  /** fetch + JSON. */
  json<T = any>(node: number, path: string, opts?: ApiOptions): Promise<T>
  /** Users registered through POST /api/auth/register on `node` (one at a time: argon2). */
  register(count: number, name?: string, node?: number): Promise<TestUser[]>
  /** An authenticated socket of `user` on process `node` (closed by close()). */
  connect(user: Pick<TestUser, 'accessToken'>, node: number): Promise<WsClient>
  /** Starts process `node` again (after kill), under the same NODE_ID: a restart after a crash. */
  restart(node: number): Promise<ClusterNode>
  /** GET /ready of one process: status code and body. */
  ready(node: number): Promise<{ status: number; body: any }>
  /** Stops the processes (SIGTERM, then SIGKILL), Redis, the fake Ollama; removes temp folders. */
  close(): Promise<void>
}

export const CLUSTER_SECRET = 'cluster-test-secret-that-is-long-enough-0123456789abcdef'

let clusterCounter = 0

export interface ClusterOptions {
  /** How many server processes (default 2). */
  nodes?: number
  /** More settings of every process. */
  env?: Record<string, string>
  /** The scripted model all processes answer from. */
  handler?: ChatHandler
  /** A Redis to use (else one is started, and stopped by close()). */
  redis?: TestRedis
}

/**
 * Starts Redis (unless one is given), the scripted Ollama and `nodes` server processes. The
 * first process applies the migrations alone; the others start together once it listens.
 */
export async function startCluster(opts: ClusterOptions = {}): Promise<TestCluster> {
  const count = opts.nodes ?? 2
  const root = mkdtempSync(join(tmpdir(), 'chat-cluster-'))
  const redis = opts.redis ?? (await startRedis())
  const ollama = await startFakeOllama({ handler: opts.handler })
  const databaseUrl = `file:${join(root, 'shared', 'chat.db')}`
  const sockets: WsClient[] = []
  const stamp = `${process.pid}-${++clusterCounter}`

  const env = (index: number): Record<string, string> => ({
    REDIS_URL: redis.url,
    DATABASE_URL: databaseUrl,
    JWT_SECRET: CLUSTER_SECRET,
    OLLAMA_HOST: ollama.url,
    OLLAMA_SLOTS: '64',
    LLM_QUEUE_PER_USER: '64',
    LOG_LEVEL: 'info', // the URL line is logged at info
    NODE_ID: `node${index}-${stamp}`,
    SHUTDOWN_GRACE_MS: '0',
    ...opts.env,
  })

  async function launch(index: number): Promise<ClusterNode> {
    const dir = join(root, `node${index}`)
    const child = spawnServer(env(index), mkdtempSync(`${dir}-`))
    const stderr: string[] = []
    void (async () => {
      // Drained so a chatty stderr can never fill the pipe and block the child.
      const decoder = new TextDecoder()
      for await (const chunk of child.proc.stderr) stderr.push(...decoder.decode(chunk).split('\n').filter(Boolean))
    })().catch(() => {})
    let base: string
    try {
      base = await child.url()
    } catch (error) {
      throw new Error(
        `cluster process ${index} did not start: ${(error as Error).message}\nstderr: ${stderr.join('\n')}`,
      )
    }
    return {
      index,
      nodeId: env(index).NODE_ID,
      child,
      base,
      wsUrl: `${base.replace(/^http/, 'ws')}/ws`,
      stderr,
      get alive() {
        return child.proc.exitCode === null && child.proc.signalCode === null
      },
      async kill(signal: NodeJS.Signals = 'SIGKILL') {
        if (child.proc.exitCode === null && child.proc.signalCode === null) child.proc.kill(signal)
        return child.proc.exited
      },
    }
  }

  const nodes: ClusterNode[] = []
  try {
    nodes.push(await launch(0))
    nodes.push(...(await Promise.all(Array.from({ length: count - 1 }, (_, i) => launch(i + 1)))))
  } catch (error) {
    for (const node of nodes) await node.kill()
    await ollama.close()
    if (!opts.redis) await redis.close()
    rmSync(root, { recursive: true, force: true })
    throw error
  }

  const api = (node: number, path: string, o: ApiOptions = {}) =>
    fetch(nodes[node].base + path, {
      method: o.method ?? (o.body !== undefined ? 'POST' : 'GET'),
      headers: {
        ...(o.body !== undefined && { 'content-type': 'application/json' }),
        ...(o.token && { authorization: `Bearer ${o.token}` }),
      },
      body: o.body !== undefined ? JSON.stringify(o.body) : undefined,
    })

  return {
    redis,
    ollama,
    nodes,
    databaseUrl,
    api,
    async restart(node) {
      nodes[node] = await launch(node)
      return nodes[node]
    },
    async json(node, path, o) {
      const res = await api(node, path, o)
      const text = await res.text()
      try {
        return JSON.parse(text)
      } catch {
        throw new Error(`${path} on process ${node}: ${res.status} ${text}`)
      }
    },
    async register(n, name = 'user', node = 0) {
      const users: TestUser[] = []
      for (let i = 0; i < n; i++) {
        const email = `${name}${i}-${stamp}-${crypto.randomUUID().slice(0, 8)}@cluster.test`
        const password = `pw-${crypto.randomUUID()}`
        const res = await api(node, '/api/auth/register', { body: { email, password, name: `${name}${i}` } })
        if (res.status !== 201) throw new Error(`register on process ${node} failed: ${res.status} ${await res.text()}`)
        const body = (await res.json()) as any
        users.push({
          id: body.user.id,
          email,
          password,
          accessToken: body.accessToken,
          refreshToken: body.refreshToken,
        })
      }
      return users
    },
    async connect(user, node) {
      const ws = await WsClient.connect(nodes[node].wsUrl, user.accessToken)
      sockets.push(ws)
      return ws
    },
    async ready(node) {
      const res = await api(node, '/ready')
      return { status: res.status, body: await res.json() }
    },
    async close() {
      for (const ws of sockets) ws.close()
      await Promise.all(
        nodes.map(async (node) => {
          if (!node.alive) return
          node.child.proc.kill('SIGTERM')
          const timer = setTimeout(() => node.child.proc.kill('SIGKILL'), 5000)
          await node.child.proc.exited
          clearTimeout(timer)
        }),
      )
      await ollama.close()
      if (!opts.redis) await redis.close()
      rmSync(root, { recursive: true, force: true })
    },
  }
}

/** The run events of `runId` a socket received, in arrival order. */
export const runEvents = (ws: WsClient, runId: string) => ws.eventsOf(runId)

/** Polls GET /api/runs/:id/events on `node` until `done`; returns every event, in order. */
export async function pollEvents(
  cluster: TestCluster,
  node: number,
  runId: string,
  token: string,
  after = 0,
  timeoutMs = 20_000,
): Promise<any[]> {
  const collected: any[] = []
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const page = await cluster.json(node, `/api/runs/${runId}/events?after=${after}`, { token })
    if (!Array.isArray(page.events)) throw new Error(`events of ${runId} on process ${node}: ${JSON.stringify(page)}`)
    for (const e of page.events)
      if (e.seq <= after) throw new Error(`the fallback returned seq ${e.seq} for after=${after}`)
    collected.push(...page.events)
    if (page.events.length) after = page.events.at(-1).seq
    if (page.done) return collected
    if (Date.now() > deadline)
      throw new Error(`run ${runId} not done on process ${node} after ${timeoutMs} ms; ${collected.length} events`)
    await Bun.sleep(25)
  }
}
