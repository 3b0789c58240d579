import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { forgeAccessToken } from '../../support/tokens'
import { startChatStack } from '../../support/chat-stack'
import { registerUser } from '../../support/users'
import { WsClient } from '../../support/ws-client'
import { useChatStack } from '../../support/fixtures'

setDefaultTimeout(30_000) // real servers and sockets on a shared 2-core machine

const stack = useChatStack()

describe('WebSocket authentication (PROTOCOL.md §3)', () => {
  test('a valid auth frame gets ready with the user id and a connection id', async () => {
    const user = await registerUser(stack.server)
    const ws = await WsClient.open(stack.server.wsUrl)
    ws.send({ type: 'auth', token: user.accessToken })
    const ready = await ws.waitFor((f) => f.type === 'ready')
    expect(ready.userId).toBe(user.id)
    expect(ready.connectionId).toStartWith('conn_')
    ws.close()
  })

  test('a bad token closes with 4401', async () => {
    const ws = await WsClient.open(stack.server.wsUrl)
    ws.send({ type: 'auth', token: 'not-a-jwt' })
    expect((await ws.closed).code).toBe(4401)
  })

  test('an expired token closes with 4401', async () => {
    const user = await registerUser(stack.server)
    const expired = await forgeAccessToken(stack.server.config, {
      sub: user.id,
      exp: Math.floor(Date.now() / 1000) - 10,
    })
    const ws = await WsClient.open(stack.server.wsUrl)
    ws.send({ type: 'auth', token: expired })
    expect((await ws.closed).code).toBe(4401)
  })

  test('a first frame that is not auth closes with 4401', async () => {
    const ws = await WsClient.open(stack.server.wsUrl)
    ws.send({ type: 'ping' })
    expect((await ws.closed).code).toBe(4401)
  })

  test('invalid JSON as the first frame closes with 4401', async () => {
    const ws = await WsClient.open(stack.server.wsUrl)
    ws.send('{not json')
    expect((await ws.closed).code).toBe(4401)
  })

  test('no auth within 5 s closes with 4408', async () => {
    const ws = await WsClient.open(stack.server.wsUrl)
    const started = Date.now()
    const { code } = await ws.closed
    expect(code).toBe(4408)
    expect(Date.now() - started).toBeGreaterThanOrEqual(4500)
  }, 15_000)

  test('re-auth with a fresh token of the same user answers auth_ok', async () => {
    const user = await registerUser(stack.server)
    const ws = await WsClient.connect(stack.server.wsUrl, user.accessToken)
    const refreshed = (await (
      await stack.server.api('/api/auth/refresh', { body: { refreshToken: user.refreshToken } })
    ).json()) as any
    ws.send({ type: 'auth', token: refreshed.accessToken })
    const ok = await ws.waitFor((f) => f.type === 'auth_ok')
    expect(ok.expiresAt).toBeGreaterThan(Date.now() / 1000)
    ws.send({ type: 'ping' })
    await ws.waitFor((f) => f.type === 'pong')
    ws.close()
  })

  test("re-auth with another user's token closes with 4403", async () => {
    const alice = await registerUser(stack.server, 'alice')
    const bob = await registerUser(stack.server, 'bob')
    const ws = await WsClient.connect(stack.server.wsUrl, alice.accessToken)
    ws.send({ type: 'auth', token: bob.accessToken })
    expect((await ws.closed).code).toBe(4403)
  })

  test('re-auth with an invalid token gets an error frame and keeps the connection', async () => {
    const user = await registerUser(stack.server)
    const ws = await WsClient.connect(stack.server.wsUrl, user.accessToken)
    ws.send({ type: 'auth', token: 'garbage' })
    const error = await ws.waitFor((f) => f.type === 'error')
    expect(error.code).toBe('invalid_token')
    ws.send({ type: 'ping' })
    await ws.waitFor((f) => f.type === 'pong')
    expect(ws.closeCode).toBeUndefined()
    ws.close()
  })
})

describe('token expiry on a live connection', () => {
  test('token_expiring is sent before expiry and an unrenewed token closes 4401', async () => {
    const short = await startChatStack({ env: { ACCESS_TOKEN_TTL: '3' } })
    try {
      const { ws } = await short.userWithSocket()
      const warning = await ws.waitFor((f) => f.type === 'token_expiring', 5000)
      expect(warning.expiresAt).toBeGreaterThan(0)
      expect((await ws.closed).code).toBe(4401)
    } finally {
      await short.close()
    }
  }, 15_000)

  test('a renewed token keeps the connection open past the first expiry', async () => {
    const short = await startChatStack({ env: { ACCESS_TOKEN_TTL: '3' } })
    try {
      const { user, ws } = await short.userWithSocket()
      await ws.waitFor((f) => f.type === 'token_expiring', 5000)
      // A longer-lived token of the same user, as a refresh with a longer TTL would give.
      const renewed = await forgeAccessToken(short.server.config, {
        sub: user.id,
        exp: Math.floor(Date.now() / 1000) + 60,
      })
      ws.send({ type: 'auth', token: renewed })
      await ws.waitFor((f) => f.type === 'auth_ok')
      await Bun.sleep(3500) // past the first token's expiry
      ws.send({ type: 'ping' })
      await ws.waitFor((f) => f.type === 'pong')
      expect(ws.closeCode).toBeUndefined()
      ws.close()
    } finally {
      await short.close()
    }
  }, 15_000)
})
