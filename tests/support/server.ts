import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig, type Config } from '../../src/config'
import { startServer, type RunningServer } from '../../src/app'

export interface TestServer extends RunningServer {
  config: Config
  dataDir: string
  /** fetch against the server: `api('/api/threads', { token, method, body })`. */
  api(path: string, init?: ApiInit): Promise<Response>
  wsUrl: string
  close(): Promise<void>
}

export interface ApiInit {
  method?: string
  token?: string
  body?: unknown
  headers?: Record<string, string>
}

/**
 * A real server on 127.0.0.1, port 0, with its own temp-file database (a real libsql file).
 * `env` takes the same variables as production (PROTOCOL.md §1).
 */
export async function startTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  const dataDir = env.DATA_DIR ?? mkdtempSync(join(tmpdir(), 'chat-test-'))
  const config = loadConfig({
    PORT: '0',
    DATABASE_URL: `file:${join(dataDir, 'chat.db')}`,
    DATA_DIR: dataDir,
    JWT_SECRET: 'test-secret-that-is-long-enough-for-hs256-0123456789',
    OLLAMA_HOST: 'http://127.0.0.1:9', // nothing listens there unless a test says otherwise
    LOG_LEVEL: 'silent',
    SHUTDOWN_GRACE_MS: '0', // tests stop servers with runs in flight: don't wait for them
    REGISTER_RATE_LIMIT: '1000000', // every test user registers from 127.0.0.1; tests of the limit set their own
    ...env,
  })
  const server = await startServer(config)
  const api = (path: string, init: ApiInit = {}) =>
    fetch(server.url + path, {
      method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
      headers: {
        ...(init.body !== undefined && { 'content-type': 'application/json' }),
        ...(init.token && { authorization: `Bearer ${init.token}` }),
        ...init.headers,
      },
      body: init.body === undefined ? undefined : typeof init.body === 'string' ? init.body : JSON.stringify(init.body),
    })
  return {
    ...server,
    config,
    dataDir,
    api,
    wsUrl: server.url.replace(/^http/, 'ws') + '/ws',
    async close() {
      await server.stop()
      if (!env.DATA_DIR) rmSync(dataDir, { recursive: true, force: true })
    },
  }
}
