/**
 * A session that ends while the socket's `auth` frame is being checked: the end is announced
 * before the connection is registered, so the announcement alone cannot reach it. The endpoint
 * checks once more after registering; the socket closes with 4401 instead of staying open on
 * an ended session. The sessions service here is a stand-in whose first check is overtaken by
 * the end (a real one cannot be paused at that point); tokens, registry and sockets are real.
 */
import { afterAll, expect, test } from 'bun:test'
import { Elysia } from 'elysia'
import { accessTokens } from '../../../src/auth/tokens'
import type { SessionsService } from '../../../src/auth/sessions/service'
import { CLOSE_CODES } from '../../../src/protocol'
import type { RunManager } from '../../../src/runs/service'
import { ConnectionRegistry } from '../../../src/ws/registry'
import { wsRoutes } from '../../../src/ws'

const access = accessTokens({ secret: 'x'.repeat(40), issuer: 'test', audience: 'test', ttlSeconds: 300 })
const listeners: ((userId: string) => void)[] = []
let ended = false
const sessions: Pick<SessionsService, 'check' | 'onChange'> = {
  onChange(listener) {
    listeners.push(listener)
    return () => {}
  },
  async check(claims) {
    if (ended) return { ok: false, code: 'session_revoked' }
    // The verdict was read while the session lived; the end lands before the caller goes on.
    ended = true
    for (const listener of listeners) listener(claims.userId)
    await Bun.sleep(20)
    return { ok: true, role: 'member' }
  },
}
const app = new Elysia()
  .use(wsRoutes({ access, sessions, runs: {} as RunManager, registry: new ConnectionRegistry() }))
  .listen(0)
afterAll(() => app.stop(true))

test('a session ended during the auth check closes the socket with 4401; no ready frame', async () => {
  const { token } = await access.sign({ id: 'user-1', role: 'member' }, 'family-1')
  const socket = new WebSocket(`ws://localhost:${app.server!.port}/ws`)
  const frames: string[] = []
  socket.onmessage = (event) => frames.push(String(event.data))
  socket.onopen = () => socket.send(JSON.stringify({ type: 'auth', token }))
  const closed = await new Promise<{ code: number }>((resolve) => {
    socket.onclose = (event) => resolve({ code: event.code })
  })
  expect(closed.code).toBe(CLOSE_CODES.unauthorized)
  expect(frames.map((f) => JSON.parse(f).type)).not.toContain('ready')
})
