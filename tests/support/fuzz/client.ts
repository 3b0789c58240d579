/** HTTP and WebSocket access for the fuzzer: every answer is checked and scanned before an op sees it. */
import type { TestServer } from '../server'
import type { FakeOllama } from '../fake-ollama'
import { WsClient } from '../ws-client'
import { checkEnvelope, scan, type ScanOptions } from './oracle'
import { FuzzFailure, type FuzzSocket, type FuzzUser, type World } from './world'

export interface FuzzStack {
  server: TestServer
  ollama: FakeOllama
  world: World
}

export interface Answer {
  status: number
  text: string
  /** The parsed body (undefined when empty or not JSON). */
  json: any
  headers: Headers
  /** `METHOD path → status`, for messages. */
  where: string
}

export interface RequestOptions extends ScanOptions {
  /** Bearer token; default: the viewer's current access token. `null` sends none. */
  token?: string | null
  body?: unknown
  headers?: Record<string, string>
}

/** One request, as `viewer` (null: anonymous), with the envelope check and the leak scan. */
export async function request(
  stack: FuzzStack,
  viewer: FuzzUser | null,
  method: string,
  path: string,
  opts: RequestOptions = {},
): Promise<Answer> {
  const token = opts.token === undefined ? viewer?.accessToken : (opts.token ?? undefined)
  const res = await stack.server.api(path, { method, token, body: opts.body, headers: opts.headers })
  const text = await res.text()
  const where = `${method} ${path} → ${res.status}`
  checkEnvelope(res.status, text, where, opts.openaiErrors)
  scan(stack.world, viewer, text, where, opts)
  let json: any
  try {
    json = text ? JSON.parse(text) : undefined
  } catch {}
  return { status: res.status, text, json, headers: res.headers, where }
}

/** Throws unless the answer has one of the statuses. */
export function expectStatus(answer: Answer, ...statuses: number[]) {
  if (!statuses.includes(answer.status))
    throw new FuzzFailure(`${answer.where}: expected ${statuses.join(' or ')}: ${answer.text.slice(0, 300)}`)
}

/** Another user's (or a missing) resource: 404 `not_found`, never 403, never content. */
export function expectNotFound(answer: Answer) {
  if (answer.status !== 404 || answer.json?.error?.code !== 'not_found')
    throw new FuzzFailure(`${answer.where}: expected 404 not_found: ${answer.text.slice(0, 300)}`)
}

/** Opens and authenticates a socket for `user`; the `ready` frame is scanned with the rest. */
export async function openSocket(stack: FuzzStack, user: FuzzUser): Promise<FuzzSocket> {
  const client = await WsClient.connect(stack.server.wsUrl, user.accessToken)
  const socket: FuzzSocket = { client, scanned: 0, closed: false }
  void client.closed.then(() => (socket.closed = true))
  user.sockets.push(socket)
  return socket
}

/**
 * Sends frames on a socket, then a ping, and waits for its pong: frames of one connection are
 * handled in order, so every answer to the frames has arrived by then. Returns the frames that
 * arrived in between (or throws if the socket closed).
 */
export async function roundTrip(socket: FuzzSocket, frames: (object | string)[], timeoutMs = 30_000) {
  const from = socket.client.frames.length
  for (const frame of frames) socket.client.send(frame)
  socket.client.send({ type: 'ping' })
  let pong = -1
  await socket.client.until(
    () => {
      const list = socket.client.frames
      for (let i = from; i < list.length; i++) if (list[i]!.type === 'pong') return (pong = i) >= 0
      return socket.client.closeCode !== undefined
    },
    timeoutMs,
    'a pong',
  )
  if (pong < 0)
    throw new FuzzFailure(
      `the socket closed (${socket.client.closeCode}) instead of answering frames ${JSON.stringify(frames).slice(0, 300)}`,
    )
  return socket.client.frames.slice(from, pong)
}
