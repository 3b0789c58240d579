/**
 * Events across processes (issue 10, PROTOCOL.md §3): three server processes share one database
 * file and a real Redis; ten users, each with connections on two or three of the processes, chat
 * at once. Every connection of a user sees every one of that user's runs exactly once, in seq
 * order with no gap, and nothing of anyone else's.
 */
import { expect, setDefaultTimeout, test } from 'bun:test'
import { lastUserText } from '../support/chat-stack'
import { type DescribeClusterOptions, describeCluster, eventually, pollEvents } from '../support/cluster'
import { seqProblem, streamedText, type Frame, type WsClient } from '../support/ws-client'

setDefaultTimeout(60_000)

const USERS = 10
const RUNS_PER_USER = 3
const answerTo = (question: string) => `echo: ${question} `.repeat(4)

/**
 * Each answer names its question (and so its user), streamed in small chunks with a small
 * delay: runs overlap on every process and interleave on the bus.
 */
const CLUSTER: DescribeClusterOptions = {
  nodes: 3,
  env: { MAX_RUNS_PER_USER: String(RUNS_PER_USER) },
  handler: (req) => ({ content: answerTo(lastUserText(req.messages)), chunkSize: 3, chunkDelayMs: 4 }),
  users: USERS,
  userName: 'fanout',
}

describeCluster('10 users with connections spread over 3 processes chat at once', CLUSTER, ({ cluster, users }) => {
  test('every connection sees each of its user’s runs once, in order, complete — and nothing else', async () => {
    // User i: sockets on processes i%3 and (i+1)%3; every other user also on the third one.
    const sockets = new Map<string, { ws: WsClient; node: number }[]>()
    for (const [i, user] of users.entries()) {
      const nodes = i % 2 === 0 ? [0, 1, 2] : [i % 3, (i + 1) % 3]
      sockets.set(
        user.id,
        await Promise.all(nodes.map(async (node) => ({ ws: await cluster.connect(user, node), node }))),
      )
    }

    // Every user starts RUNS_PER_USER runs at once, each from a different socket (so on
    // different processes), all users together.
    const runs = await Promise.all(
      users.flatMap((user, i) =>
        Array.from({ length: RUNS_PER_USER }, async (_, r) => {
          const mine = sockets.get(user.id)!
          const from = mine[r % mine.length]
          const question = `user ${i} (${user.id}) run ${r}`
          const run = await from.ws.chat(question)
          return { ...run, user, question, node: from.node }
        }),
      ),
    )
    expect(runs).toHaveLength(USERS * RUNS_PER_USER)
    expect(new Set(runs.map((r) => r.node)).size).toBe(3) // runs execute on every process

    // Each run's end reaches every socket of its owner.
    await Promise.all(
      runs.flatMap((run) => sockets.get(run.user.id)!.map(({ ws }) => ws.completion(run.runId, 30_000))),
    )

    const runIdsOf = new Map(
      users.map((u) => [u.id, new Set(runs.filter((r) => r.user.id === u.id).map((r) => r.runId))]),
    )
    const problems: string[] = []
    for (const run of runs) {
      // The journal as stored (read through a process that did not run it).
      const other = (run.node + 1) % 3
      const stored = await pollEvents(cluster, other, run.runId, run.user.accessToken)
      expect(seqProblem(stored)).toBeUndefined()
      expect(stored.at(-1)).toMatchObject({ type: 'agent_completed', status: 'completed' })
      expect(streamedText(stored)).toBe(answerTo(run.question))
      for (const { ws, node } of sockets.get(run.user.id)!) {
        const seen = ws.eventsOf(run.runId)
        const where = `run ${run.runId} (on process ${run.node}) on a socket on process ${node}`
        if (seqProblem(seen)) problems.push(`${where}: ${seqProblem(seen)}`)
        else if (seen.length !== stored.length)
          problems.push(`${where}: ${seen.length} events, ${stored.length} stored`)
        else if (JSON.stringify(seen) !== JSON.stringify(stored))
          problems.push(`${where}: events differ from the stored ones`)
      }
    }
    // Nothing of another user's runs on any socket (run events, accepted frames, errors).
    for (const [userId, mine] of sockets) {
      for (const { ws, node } of mine) {
        for (const frame of ws.frames) {
          if (frame.runId !== undefined && !runIdsOf.get(userId)!.has(frame.runId))
            problems.push(`socket of ${userId} on process ${node} got ${frame.type} of run ${frame.runId}`)
          if (frame.type === 'error')
            problems.push(`socket of ${userId} on process ${node} got an error: ${frame.code} ${frame.message}`)
        }
        const foreign = ws.frames.filter((f: Frame) => typeof f.input === 'string' && !f.input.includes(userId))
        if (foreign.length) problems.push(`socket of ${userId} on process ${node} saw another user's question`)
      }
    }
    expect(problems).toEqual([])

    // The same run cap holds afterwards: every slot was given back, cluster-wide.
    const user = users[0]
    const again = await Promise.all(
      Array.from({ length: RUNS_PER_USER }, (_, r) => sockets.get(user.id)![r % 3].ws.chat(`again ${r}`)),
    )
    await Promise.all(again.map((run) => sockets.get(user.id)![0].ws.completion(run.runId)))
    for (const node of cluster.nodes) expect(node.alive).toBe(true)
  })

  test('a socket opened on another process mid-run gets the rest live, then resume fills the start', async () => {
    const user = users[1]
    const first = await cluster.connect(user, 0)
    const { runId } = await first.chat('a longer one '.repeat(3))
    await first.until(() => first.eventsOf(runId).filter((e) => e.type === 'message_delta').length >= 5)
    const late = await cluster.connect(user, 2)
    await late.until(() => late.eventsOf(runId).length > 0)
    expect(late.eventsOf(runId)[0].seq).toBeGreaterThan(1)
    late.send({ type: 'resume', runId, afterSeq: 0 })
    await late.completion(runId)
    const all = await first.completion(runId)
    const seen = late.eventsOf(runId)
    const replayStart = seen.findLastIndex((e) => e.seq === 1)
    expect(replayStart).toBeGreaterThan(0) // live events first, then the replay from seq 1
    expect(seen.slice(replayStart)).toEqual(all)
    await eventually(() => cluster.nodes.every((n) => n.alive), 100, 'all processes alive')
  })
})
