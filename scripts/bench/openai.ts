/**
 * The OpenAI-compatible API's extra latency (issue 17): time to the first streamed token through
 * `POST /v1/chat/completions` (stream: true) compared with the WebSocket path.
 *
 *   bun run bench:openai [--rounds 200] [--ttfc 20] [--chunk 8] [--delay 5] [--chars 120]
 *
 * One user with one API key and one authenticated WebSocket; runs one at a time (latency, not
 * throughput); the scripted model runs in a process of its own and waits `--ttfc` ms before its
 * first chunk. Two measures:
 *
 *  1. same run: each /v1 streaming call is also a run on the user's WebSocket (its events go to
 *     the user's sockets too). Per run: first SSE content chunk at the /v1 client minus first
 *     `message_delta` at the WebSocket client, both on this process's clock. This is the cost of
 *     the adapter itself (event → chunk, SSE framing, HTTP write). Target: p50 ≤ 2 ms.
 *  2. separate runs, interleaved: `chat` frame → first `message_delta` versus request sent →
 *     first content chunk (adds key check, body validation, model lookup and the HTTP request).
 */
import { arg, intArg } from './lib/args'
import { echoModel, startModelProcess } from './lib/load-clients'
import { printMachine } from './lib/machine'
import { fmtMs, summarize, type Summary } from './lib/numbers'
import { commandLine, printTable, recordResult } from './lib/results'
import { runBenchmark } from './lib/run'
import { startBenchServer } from './lib/server'
import { registerUsersHttp } from './lib/users'

const ROUNDS = intArg('rounds', 200)
const TTFC = intArg('ttfc', 20)
const CHUNK = intArg('chunk', 8)
const DELAY = intArg('delay', 5)
const CHARS = intArg('chars', 120)
const MODEL = arg('model', 'llama3.2')

printMachine(`/v1 vs WebSocket first-token latency: ${ROUNDS} rounds, model time to first chunk ${TTFC} ms`)
const modelProcess = await startModelProcess(echoModel({ ttfc: TTFC, chunk: CHUNK, delay: DELAY, chars: CHARS }))
const bs = await startBenchServer({ ollamaUrl: modelProcess.url })

/** A WebSocket that records when each run's first message_delta and agent_completed arrive. */
class Socket {
  readonly firstDelta = new Map<string, number>()
  readonly completed = new Map<string, number>()
  readonly runOfInput = new Map<string, string>()
  readonly accepted = new Map<string, string>()
  #waiters: (() => void)[] = []
  private constructor(readonly ws: WebSocket) {
    ws.addEventListener('message', (e) => {
      const at = performance.now()
      const frame = JSON.parse(String(e.data))
      if (frame.type === 'agent_started') this.runOfInput.set(frame.input, frame.runId)
      if (frame.type === 'run_accepted') this.accepted.set(frame.requestId, frame.runId)
      if (frame.type === 'message_delta' && !this.firstDelta.has(frame.runId)) this.firstDelta.set(frame.runId, at)
      if (frame.type === 'agent_completed') this.completed.set(frame.runId, at)
      for (const wake of this.#waiters.splice(0)) wake()
    })
  }
  static async open(url: string, token: string) {
    const ws = new WebSocket(url)
    await new Promise((resolve, reject) => ((ws.onopen = resolve), (ws.onerror = reject)))
    const socket = new Socket(ws)
    ws.send(JSON.stringify({ type: 'auth', token }))
    await new Promise<void>((resolve) =>
      ws.addEventListener('message', (e) => JSON.parse(String(e.data)).type === 'ready' && resolve()),
    )
    return socket
  }
  async until(check: () => boolean) {
    const deadline = performance.now() + 30_000
    while (!check()) {
      if (performance.now() > deadline) throw new Error('timed out waiting for the WebSocket')
      await new Promise<void>((resolve) => this.#waiters.push(resolve))
    }
  }
}

/** Sends a streaming completion; resolves at the first content chunk, then drains the stream. */
async function v1FirstToken(
  key: string,
  content: string,
): Promise<{ sent: number; first: number; done: Promise<void> }> {
  const sent = performance.now()
  const res = await fetch(`${bs.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, stream: true, messages: [{ role: 'user', content }] }),
  })
  if (!res.ok || !res.body) throw new Error(`/v1 answered ${res.status}: ${await res.text()}`)
  const reader = res.body.getReader()
  const decoder = new TextDecoder()
  let text = ''
  let first: number | undefined
  while (first === undefined) {
    const { value, done } = await reader.read()
    if (done) throw new Error('the stream ended before any content')
    text += decoder.decode(value, { stream: true })
    // The first chunk carries only the role; the first token is the first non-empty content.
    if (/"delta":\{"content":"[^"]/.test(text)) first = performance.now()
  }
  const done = (async () => {
    while (!(await reader.read()).done) {}
  })()
  return { sent, first, done }
}

await runBenchmark('openai benchmark', async () => {
  const [user] = await registerUsersHttp(bs.url, 1, 'openai-bench')
  const created = await fetch(`${bs.url}/api/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${user.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'bench' }),
  })
  const { secret } = (await created.json()) as { secret: string }
  const socket = await Socket.open(bs.wsUrl, user.token)

  const sameRun: number[] = []
  const wsTtft: number[] = []
  const v1Ttft: number[] = []
  const wsSameRunTtft: number[] = []
  for (let round = -10; round < ROUNDS; round++) {
    // /v1 streaming call, also watched on the WebSocket.
    const content = `bench v1 ${round} ${crypto.randomUUID()}`
    const v1 = await v1FirstToken(secret, content)
    await v1.done
    await socket.until(() => socket.runOfInput.has(content) && socket.completed.has(socket.runOfInput.get(content)!))
    const runId = socket.runOfInput.get(content)!
    const wsFirst = socket.firstDelta.get(runId)!

    // WebSocket chat frame, the UI's path.
    const requestId = crypto.randomUUID()
    const sent = performance.now()
    socket.ws.send(JSON.stringify({ type: 'chat', requestId, content: `bench ws ${round}` }))
    await socket.until(() => socket.accepted.has(requestId) && socket.completed.has(socket.accepted.get(requestId)!))
    const wsRun = socket.accepted.get(requestId)!
    if (round < 0) continue // warm-up
    sameRun.push(v1.first - wsFirst)
    v1Ttft.push(v1.first - v1.sent)
    wsSameRunTtft.push(wsFirst - v1.sent)
    wsTtft.push(socket.firstDelta.get(wsRun)! - sent)
  }
  socket.ws.close()

  const s = {
    sameRun: summarize(sameRun),
    v1: summarize(v1Ttft),
    ws: summarize(wsTtft),
    wsSameRun: summarize(wsSameRunTtft),
  }
  const separate = { p50: s.v1.p50 - s.ws.p50, p95: s.v1.p95 - s.ws.p95 }
  const row = (label: string, x: Summary) => [label, x.n, fmtMs(x.p50), fmtMs(x.p95), fmtMs(x.p99), fmtMs(x.max)]
  console.log('')
  printTable(
    [
      row('WebSocket: chat frame → first message_delta', s.ws),
      row('/v1: request → first content chunk', s.v1),
      row('  same run: request → first message_delta on the WebSocket', s.wsSameRun),
      row('  same run: extra (SSE chunk − WebSocket delta)', s.sameRun),
    ],
    ['', 'n', 'p50', 'p95', 'p99', 'max'],
  )
  recordResult('openai', {
    command: commandLine('bench:openai'),
    params: { rounds: ROUNDS, ttfc: TTFC, chunk: CHUNK, delay: DELAY, chars: CHARS },
    figures: s,
    targets: [
      {
        name: 'extra first-token latency via /v1, same run, p50',
        value: fmtMs(s.sameRun.p50),
        target: '≤ 2 ms',
        met: s.sameRun.p50 <= 2,
      },
      { name: 'same run, p95', value: fmtMs(s.sameRun.p95), target: 'reported' },
      {
        name: '/v1 − WebSocket, separate runs, p50 / p95',
        value: `${fmtMs(separate.p50)} / ${fmtMs(separate.p95)}`,
        target: 'reported',
      },
    ],
  })
}, [() => modelProcess.stop(), () => bs.close()])
