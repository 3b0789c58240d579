/**
 * Durability with the real entry point as a child process: kill -9 in the middle of 50
 * streaming runs, then a restart on the same database file that continues them (PROTOCOL.md
 * §9); and SIGTERM draining.
 */
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { type RunningChild, useChildServers } from '../../support/child-server'
import { startFakeOllama } from '../../support/fake-ollama'
import { registerUsers } from '../../support/users'
import { WsClient, seqProblem, streamedText, type Frame } from '../../support/ws-client'

setDefaultTimeout(60_000)

const SECRET = 'durability-test-secret-that-is-long-enough-0123456789'
const start = useChildServers(() => ({ JWT_SECRET: SECRET, LOG_LEVEL: 'info' }))
const api = (base: string, path: string, token: string) =>
  fetch(base + path, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.json() as Promise<any>)

const ANSWER = Array.from({ length: 60 }, (_, i) => `word${i}`).join(' ') // ~400 characters

describe('kill -9 in the middle of 50 streaming runs', () => {
  test('loses no event a client saw, and the restart continues every run to its complete answer', async () => {
    // A slow stream: every run is mid-answer when the process dies.
    const ollama = await startFakeOllama({ handler: () => ({ content: ANSWER, chunkSize: 2, chunkDelayMs: 10 }) })
    const first = await start({ OLLAMA_HOST: ollama.url, MAX_RUNS_PER_USER: '10', OLLAMA_SLOTS: '50' })
    const users = await registerUsers(first, 5, 'durable')
    const sockets = await Promise.all(users.map((u) => WsClient.connect(first.wsUrl, u.accessToken)))
    const runs = await Promise.all(
      sockets.flatMap((ws, i) =>
        Array.from({ length: 10 }, (_, r) =>
          ws.chat(`user ${i} run ${r}`).then((run) => ({ ...run, ws, user: users[i] })),
        ),
      ),
    )
    expect(runs).toHaveLength(50)
    // Every run has streamed something before the kill.
    await Promise.all(
      runs.map((run) => run.ws.until(() => run.ws.eventsOf(run.runId).some((e) => e.type === 'message_delta'), 20_000)),
    )

    first.proc.kill('SIGKILL')
    await first.proc.exited
    const seenBeforeKill = new Map(runs.map((run) => [run.runId, run.ws.eventsOf(run.runId)]))
    for (const ws of sockets) ws.close()
    // Killed mid-answer: no run had finished.
    for (const seen of seenBeforeKill.values()) expect(seen.some((e) => e.type === 'agent_completed')).toBe(false)

    const second = await start({ OLLAMA_HOST: ollama.url, MAX_RUNS_PER_USER: '10', OLLAMA_SLOTS: '50' }, first.dir)
    try {
      expect(
        second.lines.some((l) => l.includes('resumed runs interrupted by the last stop') && l.includes('"count":50')),
      ).toBe(true)
      // A client that saw up to seq N resumes on the new process and gets exactly the rest, live.
      const watched = runs[0]
      const seen0 = seenBeforeKill.get(watched.runId)!
      const ws = await WsClient.connect(second.wsUrl, watched.user.accessToken)
      ws.send({ type: 'resume', runId: watched.runId, afterSeq: seen0.at(-1)!.seq })
      // (Live events of the run may reach the new socket before its resume is answered: the
      // client keeps one event per seq.)
      const received = await ws.completion(watched.runId, 30_000)
      const rest = [...new Map(received.map((e) => [e.seq, e])).values()].sort((a, b) => a.seq - b.seq)
      expect(rest[0].seq).toBe(seen0.at(-1)!.seq + 1)
      expect(seqProblem([...seen0, ...rest])).toBeUndefined()
      ws.close()

      for (const run of runs) {
        let journal: { events: Frame[]; done: boolean } = { events: [], done: false }
        for (let i = 0; i < 600 && !journal.done; i++) {
          journal = await api(second.base, `/api/runs/${run.runId}/events?after=0`, run.user.accessToken)
          if (!journal.done) await Bun.sleep(50)
        }
        const { events } = journal
        expect(journal.done).toBe(true)
        expect(seqProblem(events)).toBeUndefined()
        const seen: Frame[] = seenBeforeKill.get(run.runId)!
        // Everything the client saw before the kill is stored, byte for byte, and the run went on after it.
        expect(events.slice(0, seen.length)).toEqual(seen)
        expect(events.filter((e: Frame) => e.type === 'agent_thinking' && e.status === 'resumed')).toHaveLength(1)
        expect(events.filter((e: Frame) => e.type === 'agent_started')).toHaveLength(1)
        expect(events.filter((e: Frame) => e.type === 'agent_completed')).toHaveLength(1)
        const last = events.at(-1)
        expect(last).toMatchObject({ type: 'agent_completed', status: 'completed', message: { content: ANSWER } })
        // The streamed text, before and after the crash, is the answer exactly once.
        expect(streamedText(events)).toBe(ANSWER)
        const { run: row } = await api(second.base, `/api/runs/${run.runId}`, run.user.accessToken)
        expect(row.status).toBe('completed')
        const { messages } = await api(second.base, `/api/threads/${run.threadId}/messages`, run.user.accessToken)
        expect(messages.map((m: Frame) => [m.role, m.content])).toEqual([
          ['user', expect.stringMatching(/^user \d run \d$/)],
          ['assistant', ANSWER],
        ])
      }
      // The model was asked to continue each answer from the text already streamed.
      const continued = ollama.requests.filter((r) => r.messages.at(-1)?.role === 'assistant')
      expect(continued.length).toBe(50)
      for (const r of continued) expect(ANSWER.startsWith(r.messages.at(-1).content)).toBe(true)
    } finally {
      second.proc.kill('SIGTERM')
      await second.proc.exited
      await ollama.close()
    }
  })
})

/** A new user of `child` on a socket of their own, and the run their `question` started. */
async function runOn(child: RunningChild, question: string) {
  const [user] = await registerUsers(child, 1, 'drain')
  const ws = await WsClient.connect(child.wsUrl, user.accessToken)
  return { ws, runId: (await ws.chat(question)).runId }
}

describe('SIGTERM drains', () => {
  test('in-flight runs finish within the grace period; the process exits 0', async () => {
    const ollama = await startFakeOllama({
      handler: () => ({ content: 'finishing up nicely', chunkSize: 2, chunkDelayMs: 30 }),
    })
    const child = await start({ OLLAMA_HOST: ollama.url, SHUTDOWN_GRACE_MS: '5000' })
    try {
      const { ws, runId } = await runOn(child, 'please finish')
      await ws.waitFor((f) => f.type === 'message_delta' && f.runId === runId)
      child.proc.kill('SIGTERM')
      const events = await ws.completion(runId)
      expect(events.at(-1)!.status).toBe('completed') // it was allowed to finish
      expect(events.at(-1)!.message.content).toBe('finishing up nicely')
      expect(await child.proc.exited).toBe(0)
    } finally {
      if (child.proc.exitCode === null) child.proc.kill('SIGKILL')
      await ollama.close()
    }
  })

  test('runs still going after the grace period are cancelled with their events, and new runs are refused meanwhile', async () => {
    const ollama = await startFakeOllama({ handler: () => ({ hang: true }) })
    const child = await start({ OLLAMA_HOST: ollama.url, SHUTDOWN_GRACE_MS: '1500' })
    try {
      const { ws, runId } = await runOn(child, 'this never ends')
      await ws.waitFor((f) => f.type === 'agent_thinking' && f.runId === runId)
      child.proc.kill('SIGTERM')
      await Bun.sleep(300)
      ws.send({ type: 'chat', requestId: 'late', content: 'one more?' })
      const refused = await ws.waitFor((f) => f.type === 'error' && f.requestId === 'late')
      expect(refused.code).toBe('server_shutting_down')
      const done = (await ws.completion(runId)).at(-1)!
      expect(done.status).toBe('cancelled')
      expect(done.error.code).toBe('server_shutdown')
      expect(await child.proc.exited).toBe(0)
    } finally {
      if (child.proc.exitCode === null) child.proc.kill('SIGKILL')
      await ollama.close()
    }
  })
})
