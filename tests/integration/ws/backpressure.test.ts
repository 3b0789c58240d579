import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { connect, type Socket } from 'node:net'
import { startChatStack, type ChatStack } from '../../support/chat-stack'
import { WsClient, seqProblem, streamedText } from '../../support/ws-client'

setDefaultTimeout(60_000)

const BIG = 'y'.repeat(12 * 1024 * 1024) // far more than loopback socket buffers hold

let stack: ChatStack
beforeAll(async () => {
  stack = await startChatStack({
    env: { WS_MAX_BUFFERED_BYTES: String(256 * 1024), OLLAMA_SLOTS: '4' },
    handler: (req) =>
      req.messages.at(-1).content === 'flood'
        ? { content: BIG, chunkSize: 64 * 1024 }
        : { content: 'small answer', chunkSize: 2, chunkDelayMs: 2 },
  })
})
afterAll(() => stack.close())

/** A WebSocket client that authenticates, then stops reading its socket: a stuck reader. */
async function stuckReader(port: number, token: string): Promise<{ socket: Socket; closed: Promise<void> }> {
  const socket = connect(port, '127.0.0.1')
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
  socket.write(
    'GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Key: ${Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  )
  await new Promise<void>((resolve) => socket.once('data', () => resolve())) // 101 Switching Protocols
  const send = (text: string) => {
    const payload = Buffer.from(text)
    const mask = crypto.getRandomValues(new Uint8Array(4))
    const header =
      payload.length < 126
        ? Buffer.from([0x81, 0x80 | payload.length])
        : Buffer.from([0x81, 0x80 | 126, payload.length >> 8, payload.length & 255])
    socket.write(Buffer.concat([header, Buffer.from(mask), Buffer.from(payload.map((b, i) => b ^ mask[i % 4]))]))
  }
  send(JSON.stringify({ type: 'auth', token }))
  await Bun.sleep(200)
  send(JSON.stringify({ type: 'chat', requestId: 'flood', content: 'flood' }))
  socket.pause() // from here on nothing is read
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  return { socket, closed }
}

describe('a slow reader', () => {
  test('is closed once its buffer passes the cap, without stalling another user; its run stays resumable', async () => {
    const slow = await stack.userWithSocket('slow')
    slow.ws.close()
    const { socket, closed } = await stuckReader(stack.server.port, slow.user.accessToken)

    // Meanwhile another user chats normally and is not held up.
    const healthy = await stack.userWithSocket('healthy')
    const { runId } = await healthy.ws.chat('hello')
    const events = await healthy.ws.completion(runId)
    expect(streamedText(events)).toBe('small answer')

    // The server gives up on the stuck reader rather than buffering 12 MB for it.
    socket.resume() // drain what the kernel holds so the close can arrive
    await closed
    expect(stack.server.runtime.registry.stats.slowClosed).toBeGreaterThanOrEqual(1)

    // Its run went on without it and can be fetched whole afterwards.
    const threads = (await (await stack.server.api('/api/threads', { token: slow.user.accessToken })).json()) as any
    const messages = (await (
      await stack.server.api(`/api/threads/${threads.threads[0].id}/messages`, { token: slow.user.accessToken })
    ).json()) as any
    const floodRunId = messages.messages[0].runId
    const again = await WsClient.connect(stack.server.wsUrl, slow.user.accessToken)
    again.send({ type: 'resume', runId: floodRunId, afterSeq: 0 })
    const replay = await again.completion(floodRunId, 30_000)
    expect(seqProblem(replay)).toBeUndefined()
    expect(streamedText(replay).length).toBe(BIG.length)
    again.close()
  })
})
