/**
 * The isolation fuzzer: several users (some hostile) drive the real HTTP and WebSocket API in
 * random interleavings of the catalogue's operations (ops/), and after every step the oracle
 * checks that no answer and no frame carried another user's data (oracle.ts).
 *
 * fast-check generates the steps: a step is a group of 1–3 operations by different users run
 * at once (an exclusive op runs alone). The same seed and operation count replay the same
 * sequence of choices (FUZZ_SEED / FUZZ_RUNS); server-side timing may still differ.
 */
import fc from 'fast-check'
import { startFakeOllama } from '../fake-ollama'
import { startTestServer } from '../server'
import { fuzzBrain } from './brain'
import { expectStatus, openSocket, request, type FuzzStack } from './client'
import { checkWorld, scanSockets } from './oracle'
import { catalogue } from './ops'
import { createDataset } from './ops/datasets'
import { createDocument } from './ops/documents'
import type { FuzzOp, StepContext } from './ops/types'
import { Rand } from './rand'
import { FuzzFailure, World, type FuzzUser } from './world'

export interface FuzzStackHandle extends FuzzStack {
  close(): Promise<void>
}

export interface FuzzOptions {
  seed: number
  /** Operations to run in all (a few hundred in `bun test`, 100,000 in `bun run fuzz:isolation`). */
  operations: number
  /** Steps per fast-check run; runs are separated by a settle (every run finished and checked). */
  stepsPerRun?: number
  /** Progress lines (the long runner prints them). */
  progress?: (line: string) => void
}

export interface FuzzReport {
  seed: number
  operations: number
  steps: number
  fcRuns: number
  runsChecked: number
  ms: number
  counts: Record<string, Record<string, number>>
}

/** Starts the scripted model and a real server, registers the users and gives each some data and a socket. */
export async function startFuzzStack(
  opts: { users?: number; env?: Record<string, string> } = {},
): Promise<FuzzStackHandle> {
  const world = new World()
  const ollama = await startFakeOllama({ handler: fuzzBrain(world) })
  const server = await startTestServer({
    OLLAMA_HOST: ollama.url,
    // Sessions outlive a long fuzz run, and the fuzzer's own logins are not what rate limits guard.
    ACCESS_TOKEN_TTL: '86400',
    LOGIN_RATE_LIMIT: '1000000',
    ...opts.env,
  })
  const stack: FuzzStack = { server, ollama, world }
  const users = opts.users ?? 6
  // One more account than acting users: the last is the decoy (World.decoy).
  for (let i = 0; i <= users; i++) {
    const email = `fuzz${i}-${Math.random().toString(36).slice(2, 10)}@example.test`
    const password = `Fuzz-${crypto.randomUUID()}`
    const res = await server.api('/api/auth/register', { body: { email, password, name: `fuzz ${i}` } })
    if (res.status !== 201) throw new Error(`register failed: ${res.status} ${await res.text()}`)
    const body = (await res.json()) as any
    // Odd users are hostile: most of their requests name other users' ids, runs and tokens.
    world.addUser({
      id: body.user.id,
      email,
      password,
      accessToken: body.accessToken,
      refreshToken: body.refreshToken,
      hostile: i % 2 === 1,
    })
  }
  world.makeDecoy(world.users[users]!)
  for (const user of world.users) {
    const ctx = contextFor(stack, user, user, 0)
    const thread = await ctx.http('POST', '/api/threads', { body: { title: world.content(user, 'first thread') } })
    expectStatus(thread, 201)
    user.threads.set(thread.json.thread.id, { title: thread.json.thread.title })
    const note = await ctx.http('POST', '/api/notes', {
      body: { title: world.content(user, 'first note'), body: world.content(user, 'body') },
    })
    expectStatus(note, 201)
    user.notes.live.set(note.json.note.id, { title: note.json.note.title })
    await createDataset(ctx, false)
    await createDocument(ctx)
    if (user.index % 2 === 0) await createDataset(ctx, true)
    await openSocket(stack, user)
  }
  return {
    ...stack,
    async close() {
      for (const user of world.users) for (const socket of user.sockets) socket.client.close()
      await server.close()
      await ollama.close()
    },
  }
}

function contextFor(stack: FuzzStack, actor: FuzzUser, target: FuzzUser, seed: number): StepContext {
  const rand = new Rand(seed)
  return {
    world: stack.world,
    stack,
    actor,
    target,
    hostile: actor !== target,
    rand,
    http: (method, path, opts) => request(stack, actor, method, path, opts),
    anon: (method, path, opts) => request(stack, null, method, path, { ...opts, token: null }),
    send: (token) => (stack.world.send(actor, token), token),
    async socket() {
      const open = stack.world.openSockets(actor)
      return rand.pick(open) ?? (await openSocket(stack, actor))
    },
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * Waits until every run the fuzzer started has finished, then checks what each must show
 * (its tool call's outcome) from its events over HTTP, as its owner.
 */
export async function settle(stack: FuzzStack): Promise<number> {
  let checked = 0
  for (const user of stack.world.users) {
    for (const [runId, run] of user.runs) {
      if (run.finished) continue
      let status = 'running'
      const deadline = Date.now() + 60_000
      while (!run.deleted) {
        const answer = await request(stack, user, 'GET', `/api/runs/${runId}`)
        if (answer.status === 404 && run.deleted) break
        expectStatus(answer, 200)
        status = answer.json.run.status
        if (status !== 'running') break
        if (Date.now() > deadline)
          throw new FuzzFailure(`user ${user.index}'s run ${runId} is still running after 60 s`)
        await sleep(10)
      }
      run.finished = true
      const expectation = run.expect
      if (run.deleted || !expectation || status !== 'completed') continue
      if (expectation.datasetsVersion !== undefined && expectation.datasetsVersion !== user.datasetsVersion) continue
      const answer = await request(stack, user, 'GET', `/api/runs/${runId}/events?after=0`)
      expectStatus(answer, 200)
      const done = answer.json.events.find((e: any) => e.type === 'tool_completed' && e.tool === expectation.tool)
      const where = `user ${user.index}'s run ${runId} (${expectation.tool})`
      if (!done) throw new FuzzFailure(`${where}: no tool_completed in ${answer.text.slice(0, 400)}`)
      if (done.ok !== expectation.ok)
        throw new FuzzFailure(
          `${where}: tool_completed ok=${done.ok}, expected ${expectation.ok}: ${JSON.stringify(done).slice(0, 400)}`,
        )
      if (expectation.resultIncludes && !JSON.stringify(done.result).includes(expectation.resultIncludes))
        throw new FuzzFailure(
          `${where}: the result is not the user's own data: ${JSON.stringify(done.result).slice(0, 300)}`,
        )
      if (expectation.ownDocuments) {
        const completed = answer.json.events.find((e: any) => e.type === 'agent_completed')
        const passages: any[] = done.result?.passages ?? []
        const citations: any[] = completed?.message?.citations ?? []
        // A citation is kept only for a passage this run was given ([7] never is).
        for (const c of citations)
          if (!passages.some((p) => p.n === c.n && p.documentId === c.documentId))
            throw new FuzzFailure(`${where}: citation [${c.n}] of document ${c.documentId} was not returned to the run`)
        if (/\[\s*(\d+\s*,\s*)*7\s*\]/.test(String(completed?.message?.content)) && !passages.some((p) => p.n === 7))
          throw new FuzzFailure(`${where}: the stored answer kept the marker [7]`)
        const cited = [...passages, ...citations]
        for (const p of cited) {
          if (stack.world.ownerOf(String(p.documentId).toLowerCase())?.owner !== user.index)
            throw new FuzzFailure(
              `${where}: passage or citation of document ${p.documentId}, not one of the user's: ${JSON.stringify(p).slice(0, 300)}`,
            )
          if (!String(p.text ?? p.quote ?? '').includes(user.marker) && !String(p.documentName).includes(user.marker))
            throw new FuzzFailure(`${where}: a passage not written by the user: ${JSON.stringify(p).slice(0, 300)}`)
        }
      }
      checked++
    }
  }
  checkWorld(stack.world)
  return checked
}

interface OpSpec {
  op: FuzzOp
  actor: number
  target: number
  seed: number
}

/** Runs the fuzzer on a started stack; throws a FuzzFailure (with seed and last steps) on a leak. */
export async function runFuzz(stack: FuzzStack, opts: FuzzOptions): Promise<FuzzReport> {
  const { world } = stack
  const started = performance.now()
  const stepsPerRun = opts.stepsPerRun ?? 40
  const weights: number[] = []
  let total = 0
  for (const op of catalogue) weights.push((total += op.weight))
  const SCALE = 1_000_000
  const opAt = (n: number) =>
    catalogue[weights.findIndex((w) => (n / SCALE) * total < w)] ?? catalogue[catalogue.length - 1]!
  const users = world.users.length
  // noBias: fast-check favours small numbers by default, which would make the first ops of the
  // catalogue and user 0 far more frequent than their weights say.
  const specArb = fc.record({
    op: fc.noBias(fc.nat({ max: SCALE - 1 })).map(opAt),
    actor: fc.noBias(fc.nat({ max: users - 1 })),
    target: fc.noBias(fc.nat({ max: users - 1 })),
    seed: fc.noBias(fc.integer()),
  })
  const stepArb = fc.array(specArb, { minLength: 1, maxLength: 3 })
  let steps = 0
  let fcRuns = 0
  let runsChecked = 0
  let lastProgress = performance.now()

  async function runStep(specs: OpSpec[]) {
    // Different users act at once; an exclusive op (it ends another user's session) runs alone.
    const exclusive = specs.find((s) => s.op.exclusive)
    const group: OpSpec[] = []
    for (const spec of exclusive ? [exclusive] : specs) if (!group.some((g) => g.actor === spec.actor)) group.push(spec)
    steps++
    const results = await Promise.allSettled(
      group.map(async (spec) => {
        const actor = world.users[spec.actor]!
        const target = actor.hostile ? world.users[spec.target]! : actor
        scanSockets(world, actor)
        const line = `step ${steps}: ${spec.op.name} by user ${actor.index}${actor === target ? '' : ` on user ${target.index}'s`}`
        world.remember(line)
        if (process.env.FUZZ_VERBOSE) console.log(line)
        const outcome = await spec.op.run(contextFor(stack, actor, target, spec.seed))
        world.count(spec.op.name, outcome)
        if (process.env.FUZZ_VERBOSE) console.log(`  ${line}: ${outcome}`)
      }),
    )
    const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined
    if (failed) throw failed.reason
    checkWorld(world)
  }

  const property = fc.asyncProperty(
    fc.array(stepArb, { minLength: stepsPerRun, maxLength: stepsPerRun }),
    async (plan) => {
      fcRuns++
      for (const specs of plan) {
        if (world.operations() >= opts.operations) break
        await runStep(specs)
      }
      runsChecked += await settle(stack)
      if (opts.progress && performance.now() - lastProgress > 10_000) {
        lastProgress = performance.now()
        opts.progress(
          `${world.operations()} operations, ${steps} steps, ${runsChecked} runs checked, ${Math.round((performance.now() - started) / 1000)} s`,
        )
      }
    },
  )
  const numRuns = Math.ceil(opts.operations / stepsPerRun)
  const details = await fc.check(property, { seed: opts.seed, numRuns, endOnFailure: true })
  if (details.failed) {
    const error = details.errorInstance as Error | undefined
    throw new FuzzFailure(
      [
        `isolation fuzzer failed (seed ${opts.seed}; replay: FUZZ_SEED=${opts.seed} FUZZ_RUNS=${opts.operations}) after ${world.operations()} operations:`,
        error?.message ?? String(details.errorInstance),
        'last steps:',
        ...world.recent.map((l) => `  ${l}`),
      ].join('\n'),
    )
  }
  const counts: Record<string, Record<string, number>> = {}
  for (const [op, byOutcome] of [...world.counts].sort(([a], [b]) => a.localeCompare(b)))
    counts[op] = Object.fromEntries([...byOutcome].sort(([a], [b]) => a.localeCompare(b)))
  return {
    seed: opts.seed,
    operations: world.operations(),
    steps,
    fcRuns,
    runsChecked,
    ms: Math.round(performance.now() - started),
    counts,
  }
}

/** FUZZ_SEED / FUZZ_RUNS from the environment, with defaults. */
export function fuzzSettings(defaultOperations: number): { seed: number; operations: number } {
  const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : (Date.now() ^ (Math.random() * 0x7fffffff)) | 0
  const operations = process.env.FUZZ_RUNS ? Number(process.env.FUZZ_RUNS) : defaultOperations
  if (!Number.isInteger(seed)) throw new Error(`FUZZ_SEED must be an integer, got ${process.env.FUZZ_SEED}`)
  if (!Number.isInteger(operations) || operations < 1)
    throw new Error(`FUZZ_RUNS must be a positive integer, got ${process.env.FUZZ_RUNS}`)
  return { seed, operations }
}

/** The counts as aligned text lines. */
export function formatReport(report: FuzzReport): string {
  const lines = [
    `seed ${report.seed}: ${report.operations} operations in ${report.steps} steps (${report.fcRuns} fast-check runs), ${report.runsChecked} tool runs checked, ${(report.ms / 1000).toFixed(1)} s`,
  ]
  for (const [op, byOutcome] of Object.entries(report.counts)) {
    const n = Object.values(byOutcome).reduce((a, b) => a + b, 0)
    lines.push(
      `  ${op.padEnd(28)} ${String(n).padStart(7)}  ${Object.entries(byOutcome)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}`,
    )
  }
  return lines.join('\n')
}
