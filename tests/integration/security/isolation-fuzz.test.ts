/**
 * Issue 13 item 10: isolation proven by fuzzing the real API. Six users (three hostile) drive the
 * real HTTP and WebSocket API in random interleavings of every operation of the catalogue
 * (tests/support/fuzz/ops); after every step no answer and no frame may carry another user's
 * data, and every foreign id must be a 404. A few hundred operations here, with the seed printed:
 * replay a failure with FUZZ_SEED=<seed> FUZZ_RUNS=<n>. `bun run fuzz:isolation` runs 100,000.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { formatReport, fuzzSettings, runFuzz, startFuzzStack, type FuzzStackHandle } from '../../support/fuzz/runner'
import { catalogue } from '../../support/fuzz/ops'
import { openSocket, request, roundTrip } from '../../support/fuzz/client'
import { scan } from '../../support/fuzz/oracle'
import { FuzzFailure, type FuzzUser } from '../../support/fuzz/world'

setDefaultTimeout(120_000) // a hang guard; the run itself takes seconds

let stack: FuzzStackHandle
beforeAll(async () => (stack = await startFuzzStack({ users: 6 })))
afterAll(() => stack?.close())

describe('isolation fuzzer', () => {
  test("random interleavings of every operation by 6 users (3 hostile) never show one user another user's data", async () => {
    const { seed, operations } = fuzzSettings(400)
    console.log(`isolation fuzzer: FUZZ_SEED=${seed} FUZZ_RUNS=${operations}`)
    const report = await runFuzz(stack, { seed, operations, stepsPerRun: 40 })
    console.log(formatReport(report))
    expect(report.operations).toBeGreaterThanOrEqual(operations)
    // The hostile paths were really taken: foreign ids answered 404 across areas.
    const foreign = Object.entries(report.counts).filter(([, byOutcome]) =>
      Object.keys(byOutcome).some((k) => k.startsWith('foreign')),
    )
    expect(foreign.length).toBeGreaterThanOrEqual(5)
  })

  test("the oracle fails on a real answer or frame that carries another user's data", async () => {
    // What a leak would look like: user 1's own answers, delivered to user 0.
    const [a, b] = stack.world.users as [FuzzUser, FuzzUser]
    const created = await request(stack, b, 'POST', '/api/datasets', {
      body: { name: `leak-check-${Date.now()}`, csv: `tag\n${b.marker}-leak\n` },
    })
    expect(created.status).toBe(201)
    const datasetId = created.json.dataset.id
    expect(
      (await request(stack, b, 'POST', '/api/notes', { body: { title: `${b.marker} leak check`, body: 'x' } })).status,
    ).toBe(201)
    await expect(request(stack, a, 'GET', `/api/datasets/${datasetId}`, { token: b.accessToken })).rejects.toThrow(
      /user 0 received (secret|id|name)/,
    )
    await expect(request(stack, a, 'GET', '/api/notes', { token: b.accessToken })).rejects.toThrow(FuzzFailure)
    const socket = stack.world.openSockets(b)[0] ?? (await openSocket(stack, b))
    const frames = await roundTrip(socket, [
      { type: 'resume', runId: [...b.runs.keys()].at(-1) ?? crypto.randomUUID(), afterSeq: 0 },
    ])
    const leaked = frames.find((f) => typeof f.seq === 'number') ?? frames.find((f) => f.type === 'error')!
    expect(() =>
      scan(stack.world, a, JSON.stringify({ ...leaked, delta: b.marker }), "a frame of user 1 on user 0's socket"),
    ).toThrow(FuzzFailure)
    // A share id is the link itself: not even an admin's view may show another user's.
    const shareId = Buffer.from(crypto.getRandomValues(new Uint8Array(18))).toString('base64url')
    stack.world.own(shareId, b.index, 'secret')
    const auditView = JSON.stringify({ events: [{ action: 'share_created', targetId: shareId }] })
    expect(() => scan(stack.world, a, auditView, 'an admin view', { allowAccounts: true, allowIds: true })).toThrow(
      /received secret/,
    )
    // And the same answers are fine for their owner.
    expect((await request(stack, b, 'GET', `/api/datasets/${datasetId}`)).status).toBe(200)
    expect((await request(stack, b, 'DELETE', `/api/datasets/${datasetId}`)).status).toBe(204)
  })

  test("the catalogue covers every area of today's API", () => {
    const areas = new Set(catalogue.map((op) => op.name.split('.')[0]))
    expect([...areas].sort()).toEqual([
      'account',
      'admin',
      'agents',
      'anonymous',
      'auth',
      'datasets',
      'documents',
      'http',
      'keys',
      'mcp',
      'models',
      'notes',
      'runs',
      'search',
      'shares',
      'threads',
      'usage',
      'v1',
      'ws',
    ])
  })
})
