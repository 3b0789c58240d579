import { type ChatServer, createChatServer } from '../embed'

export interface TestServer extends ChatServer {
  /** fetch against the server: `api('/api/threads', { token, method, body })`. */
  api(path: string, init?: ApiInit): Promise<Response>
  /** stop() under the name the tests have always used. */
  close(): Promise<void>
}

export interface ApiInit {
  method?: string
  token?: string
  body?: unknown
  headers?: Record<string, string>
}

/** A fetch bound to a server: JSON bodies, a bearer token, the method guessed from the body. */
export function apiFetch(baseUrl: string) {
  return (path: string, init: ApiInit = {}) =>
    fetch(baseUrl + path, {
      method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
      headers: {
        ...(init.body !== undefined && { 'content-type': 'application/json' }),
        ...(init.token && { authorization: `Bearer ${init.token}` }),
        ...init.headers,
      },
      body: init.body === undefined ? undefined : typeof init.body === 'string' ? init.body : JSON.stringify(init.body),
    })
}

/**
 * A real server on 127.0.0.1, port 0, with its own temp-file database (a real libsql file),
 * quiet and with no model unless `OLLAMA_HOST` is given. `env` takes the same variables as
 * production (PROTOCOL.md §1).
 */
export async function startTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  const server = await createChatServer({
    JWT_SECRET: 'test-secret-that-is-long-enough-for-hs256-0123456789',
    OLLAMA_HOST: 'http://127.0.0.1:9', // nothing listens there unless a test says otherwise
    LOG_LEVEL: 'silent',
    SHUTDOWN_GRACE_MS: '0', // tests stop servers with runs in flight: don't wait for them
    REGISTER_RATE_LIMIT: '1000000', // every test user registers from 127.0.0.1; tests of the limit set their own
    ...env,
  })
  return { ...server, api: apiFetch(server.url), close: () => server.stop() }
}
