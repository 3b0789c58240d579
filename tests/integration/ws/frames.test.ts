import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { useChatStack } from '../../support/fixtures'

setDefaultTimeout(30_000) // real servers and sockets on a shared 2-core machine

const stack = useChatStack()

describe('bad frames get an error frame and never close the connection', () => {
  const cases: [string, string | object, string][] = [
    ['invalid JSON', '{"type": "chat", ', 'invalid_json'],
    ['a JSON array', '[1,2,3]', 'invalid_frame'],
    ['a number', '42', 'invalid_frame'],
    ['no type', { content: 'hi' }, 'invalid_frame'],
    ['an unknown type', { type: 'launch_missiles' }, 'unknown_type'],
    ['chat without requestId', { type: 'chat', content: 'hi' }, 'missing_field'],
    ['chat without content', { type: 'chat', requestId: 'r1' }, 'missing_field'],
    ['chat with blank content', { type: 'chat', requestId: 'r1', content: '   ' }, 'missing_field'],
    ['chat with a non-string threadId', { type: 'chat', requestId: 'r1', content: 'hi', threadId: 5 }, 'invalid_field'],
    ['chat for an unknown thread', { type: 'chat', requestId: 'r1', content: 'hi', threadId: 'nope' }, 'not_found'],
    [
      'chat with an unknown agent',
      { type: 'chat', requestId: 'r1', content: 'hi', agent: 'overlord' },
      'unknown_agent',
    ],
    ['cancel without runId', { type: 'cancel' }, 'missing_field'],
    ['cancel of an unknown run', { type: 'cancel', runId: 'nope' }, 'not_found'],
    ['resume without runId', { type: 'resume', afterSeq: 0 }, 'missing_field'],
    ['resume with a negative afterSeq', { type: 'resume', runId: 'x', afterSeq: -1 }, 'invalid_field'],
    ['resume of an unknown run', { type: 'resume', runId: 'nope', afterSeq: 0 }, 'not_found'],
    ['auth without token', { type: 'auth' }, 'missing_field'],
  ]

  test.each(cases)('%s', async (_name, frame, code) => {
    const { ws } = await stack.userWithSocket()
    ws.send(frame)
    const error = await ws.waitFor((f) => f.type === 'error')
    expect(error.code).toBe(code)
    expect(typeof error.message).toBe('string')
    ws.send({ type: 'ping' })
    await ws.waitFor((f) => f.type === 'pong')
    expect(ws.closeCode).toBeUndefined()
  })

  test('a bare JSON string is refused (Elysia hands it over unquoted, so either code is fair)', async () => {
    const { ws } = await stack.userWithSocket()
    ws.send('"hello"')
    const error = await ws.waitFor((f) => f.type === 'error')
    expect(['invalid_json', 'invalid_frame']).toContain(error.code)
  })

  test('the error frame echoes the requestId of a bad chat', async () => {
    const { ws } = await stack.userWithSocket()
    ws.send({ type: 'chat', requestId: 'req-42', content: 'hi', agent: 'nobody' })
    const error = await ws.waitFor((f) => f.type === 'error')
    expect(error.requestId).toBe('req-42')
  })

  test("a chat for another user's thread is not found and reveals nothing", async () => {
    const alice = await stack.userWithSocket('alice')
    const bob = await stack.userWithSocket('bob')
    const { threadId } = await alice.ws.chat('my secret plan')
    bob.ws.send({ type: 'chat', requestId: 'steal', content: 'continue', threadId })
    const error = await bob.ws.waitFor((f) => f.type === 'error' && f.requestId === 'steal')
    expect(error.code).toBe('not_found')
    expect(JSON.stringify(bob.ws.frames)).not.toContain('secret')
  })

  test('a frame over 1 MiB closes the connection with 1009', async () => {
    const { ws } = await stack.userWithSocket()
    ws.send({ type: 'chat', requestId: 'big', content: 'x'.repeat(1024 * 1024 + 10) })
    expect((await ws.closed).code).toBe(1009)
  })

  test('a frame under 1 MiB that parses into far more (a list of 200,000 zeros) is handled, not closed', async () => {
    const { ws } = await stack.userWithSocket()
    ws.send({ type: 'ping', padding: new Array(200_000).fill(0) })
    expect((await ws.waitFor((f) => f.type === 'pong')).type).toBe('pong')
    ws.send({ type: 'ping' })
    expect(ws.frames.filter((f) => f.type === 'pong').length).toBeGreaterThanOrEqual(1)
    await ws.waitFor((f) => f.type === 'pong' && ws.frames.filter((g) => g.type === 'pong').length === 2)
  })

  test('ping answers pong', async () => {
    const { ws } = await stack.userWithSocket()
    ws.send({ type: 'ping' })
    expect((await ws.waitFor((f) => f.type === 'pong')).type).toBe('pong')
  })
})
