import { startTestServer, type TestServer } from './server'
import { startFakeOllama, type FakeOllama, type ChatHandler } from './fake-ollama'
import { registerUser, type TestUser } from './users'
import { WsClient } from './ws-client'

export interface ChatStack {
  server: TestServer
  ollama: FakeOllama
  /** A registered user with an authenticated socket. */
  userWithSocket(name?: string): Promise<{ user: TestUser; ws: WsClient }>
  /**
   * GET /ready as the stack's first user (the admin: the first account is), so the answer has
   * the detail anonymous callers don't get (Ollama hosts, circuits, queue).
   */
  adminReady(): Promise<Response>
  close(): Promise<void>
}

/** The last user message of a chat request (what the scripted model answers to). */
export const lastUserText = (messages: { role: string; content: string }[]) =>
  [...messages].reverse().find((m) => m.role === 'user')?.content ?? ''

/**
 * A real server wired to a scripted Ollama on loopback. Without a handler, each request is
 * answered with `echo: <last user message>` so concurrent users can tell their answers apart.
 */
export async function startChatStack(
  opts: { env?: Record<string, string>; handler?: ChatHandler } = {},
): Promise<ChatStack> {
  const ollama = await startFakeOllama({
    handler: opts.handler ?? ((req) => ({ content: `echo: ${lastUserText(req.messages)}`, chunkSize: 3 })),
  })
  const server = await startTestServer({ OLLAMA_HOST: ollama.url, ...opts.env })
  const sockets: WsClient[] = []
  let admin: TestUser | undefined
  return {
    server,
    ollama,
    async userWithSocket(name = 'user') {
      const user = await registerUser(server, name)
      admin ??= user
      const ws = await WsClient.connect(server.wsUrl, user.accessToken)
      sockets.push(ws)
      return { user, ws }
    },
    async adminReady() {
      admin ??= await registerUser(server, 'admin')
      return server.api('/ready', { token: admin.accessToken })
    },
    async close() {
      for (const ws of sockets) ws.close()
      await server.close()
      await ollama.close()
    },
  }
}
