/**
 * A connection cannot pin server memory (issue 13, item 2). The attack: resume a large finished
 * run, stop reading (the replay waits for the client), then keep sending 1 MiB frames, which
 * queue behind the replay. The server — a child process, so its RSS is its own — must close such
 * a connection with 1013 instead, grow by less than 64 MiB, keep serving another user's chat
 * meanwhile, and keep the run resumable.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { spawnServer, type ChildServer } from '../../support/child-server'
import { startFakeOllama, type FakeOllama } from '../../support/fake-ollama'
import { lastUserText } from '../../support/chat-stack'
import { registerUser, type TestUser } from '../../support/users'
import { WsClient, seqProblem, streamedText } from '../../support/ws-client'

setDefaultTimeout(120_000) // a child process, a 24 MB run and 400 MB offered on a shared 2-core machine

const MiB = 1024 * 1024
/**
 * The large run: 24 MiB of streamed thinking in many small events (far more than the socket
 * buffers hold, so the replay must wait for the reader) and a short answer.
 */
const BIG_THINKING = 'z'.repeat(24 * MiB)
const ATTACK_FRAMES = 400
const FRAME_BYTES = MiB - 64 // just under the 1 MiB frame limit

let ollama: FakeOllama
let child: ChildServer
let base: string
let wsUrl: string

/** RSS of the child in bytes: `VmRSS` now, or `VmHWM`, the peak since the last reset. */
function memory(field: 'VmRSS' | 'VmHWM'): number {
  const status = readFileSync(`/proc/${child.proc.pid}/status`, 'utf8')
  const kb = Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1])
  expect(kb).toBeGreaterThan(0)
  return kb * 1024
}

/** Resets the child's peak RSS (VmHWM) to its current RSS (Linux: clear_refs 5). */
function resetPeak() {
  writeFileSync(`/proc/${child.proc.pid}/clear_refs`, '5')
}

beforeAll(async () => {
  ollama = await startFakeOllama({
    handler: (req) =>
      lastUserText(req.messages) === 'big'
        ? { thinking: BIG_THINKING, content: 'done thinking', chunkSize: 32 * 1024, chunkDelayMs: 1 }
        : { content: `echo: ${lastUserText(req.messages)}`, chunkSize: 3 },
  })
  child = spawnServer({
    OLLAMA_HOST: ollama.url,
    JWT_SECRET: 'memory-pin-test-secret-long-enough-for-hs256-0123456789',
    // The replay's deadline is far past the attack: only the inbound bound can stop it in time.
    WS_REPLAY_STALL_MS: '120000',
    JOURNAL_GRACE_MS: '0',
  })
  base = await child.url()
  wsUrl = base.replace(/^http/, 'ws') + '/ws'
})

afterAll(async () => {
  child?.proc.kill('SIGTERM')
  await child?.proc.exited
  if (child) rmSync(child.dir, { recursive: true, force: true })
  await ollama?.close()
})

const api = (path: string, init: { method?: string; token?: string; body?: unknown } = {}) =>
  fetch(base + path, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: {
      ...(init.body !== undefined && { 'content-type': 'application/json' }),
      ...(init.token && { authorization: `Bearer ${init.token}` }),
    },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  })

/** The thinking text a run streamed. */
const thoughtText = (events: { type: string; text?: string }[]) =>
  events.map((e) => (e.type === 'agent_thinking' ? (e.text ?? '') : '')).join('')

/** One masked client text frame (RFC 6455 §5.2), any length. */
function clientFrame(text: string): Buffer {
  const payload = Buffer.from(text)
  const mask = Buffer.from(crypto.getRandomValues(new Uint8Array(4)))
  let header: Buffer
  if (payload.length < 126) header = Buffer.from([0x81, 0x80 | payload.length])
  else if (payload.length < 65536) header = Buffer.from([0x81, 0x80 | 126, payload.length >> 8, payload.length & 255])
  else {
    header = Buffer.alloc(10)
    header[0] = 0x81
    header[1] = 0x80 | 127
    header.writeBigUInt64BE(BigInt(payload.length), 2)
  }
  for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i % 4]
  return Buffer.concat([header, mask, payload])
}

/** The close code in what the server sent, if a close frame (opcode 8) is in it. */
function closeCodeIn(data: Buffer): number | undefined {
  let at = 0
  while (at + 2 <= data.length) {
    const opcode = data[at] & 0x0f
    let length = data[at + 1] & 0x7f
    let offset = at + 2
    if (length === 126) {
      if (offset + 2 > data.length) return undefined
      length = data.readUInt16BE(offset)
      offset += 2
    } else if (length === 127) {
      if (offset + 8 > data.length) return undefined
      length = Number(data.readBigUInt64BE(offset))
      offset += 8
    }
    if (offset + length > data.length) return undefined
    if (opcode === 8) return length >= 2 ? data.readUInt16BE(offset) : 1005
    at = offset + length
  }
  return undefined
}

/** A raw WebSocket that authenticates and asks for `afterAuth` frames, then is driven by hand. */
async function rawSocket(token: string): Promise<{ socket: Socket; received: Buffer[]; closed: Promise<void> }> {
  const socket = connect(Number(new URL(base).port), '127.0.0.1')
  await new Promise<void>((resolve, reject) => socket.once('connect', () => resolve()).once('error', reject))
  socket.write(
    'GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Key: ${Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  )
  const received: Buffer[] = []
  await new Promise<void>((resolve) => socket.once('data', () => resolve())) // 101 Switching Protocols
  socket.on('data', (chunk: Buffer) => received.push(chunk))
  socket.on('error', () => {}) // writes after the server closed: expected
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  socket.write(clientFrame(JSON.stringify({ type: 'auth', token })))
  return { socket, received, closed }
}

/** Writes `frame` `count` times as fast as the socket takes them; stops early once it closed. */
async function flood(socket: Socket, frame: Buffer, count: number): Promise<number> {
  let sent = 0
  for (; sent < count && !socket.destroyed && socket.writable; sent++) {
    if (!socket.write(frame)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          socket.off('drain', done).off('close', done).off('error', done)
          resolve()
        }
        socket.on('drain', done).on('close', done).on('error', done)
      })
    }
  }
  return sent
}

describe('a client that stops reading a replay and keeps sending', () => {
  let attacker: TestUser
  let bystander: TestUser
  let bigRunId: string

  beforeAll(async () => {
    const server = { api }
    attacker = await registerUser(server, 'attacker')
    bystander = await registerUser(server, 'bystander')
    const ws = await WsClient.connect(wsUrl, attacker.accessToken)
    const { runId } = await ws.chat('big')
    const events = await ws.completion(runId, 60_000)
    expect(events.at(-1)!.status).toBe('completed')
    expect(thoughtText(events).length).toBe(BIG_THINKING.length)
    ws.close()
    bigRunId = runId
  })

  test('is closed with 1013; the server grows by less than 64 MiB; another user chats meanwhile; the run stays resumable', async () => {
    const { socket, received, closed } = await rawSocket(attacker.accessToken)
    await Bun.sleep(50) // the auth frame is handled first (frames are handled in order anyway)
    socket.write(clientFrame(JSON.stringify({ type: 'resume', runId: bigRunId, afterSeq: 0 })))
    socket.pause() // from here on nothing is read: the replay fills the server's buffers and waits

    const before = memory('VmRSS')
    resetPeak()

    // Another user chats while the attack runs.
    const other = await WsClient.connect(wsUrl, bystander.accessToken)
    const chat = other.chat('are you there?').then(({ runId }) => other.completion(runId, 60_000))

    const pad = 'p'.repeat(FRAME_BYTES - 32)
    const frame = clientFrame(JSON.stringify({ type: 'ping', pad }))
    const sent = await flood(socket, frame, ATTACK_FRAMES)

    // The bystander's answer arrives complete.
    const events = await chat
    expect(seqProblem(events)).toBeUndefined()
    expect(events.at(-1)!.status).toBe('completed')
    expect(streamedText(events)).toBe('echo: are you there?')
    other.close()

    // The replay, the frames and everything else of the attack: less than 64 MiB at the peak.
    expect(sent).toBeGreaterThan(0)
    const grown = memory('VmHWM') - before
    expect(grown).toBeLessThan(64 * MiB)

    // The server closed the attacker with 1013: read what it sent up to its close frame.
    socket.resume()
    await closed
    expect(closeCodeIn(Buffer.concat(received))).toBe(1013)

    // The run is still there for a well-behaved client.
    const again = await WsClient.connect(wsUrl, attacker.accessToken)
    again.send({ type: 'resume', runId: bigRunId, afterSeq: 0 })
    const replay = await again.completion(bigRunId, 60_000)
    expect(seqProblem(replay)).toBeUndefined()
    expect(thoughtText(replay).length).toBe(BIG_THINKING.length)
    expect(streamedText(replay)).toBe('done thinking')
    again.close()
  })
})
