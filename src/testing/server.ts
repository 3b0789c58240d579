import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type ChatServer, createChatServer } from '../embed'

export interface TestServer extends ChatServer {
  /** fetch against the server: `api('/api/threads', { token, method, body })`. */
  api(path: string, init?: ApiInit): Promise<Response>
  /**
   * Stops the server and removes its temp data folder (not a DATA_DIR passed in). stop() only
   * stops it, so a test can start another server on the same data (a restart).
   */
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
 * Data folders of test servers not closed yet. A test that fails before its close(), or a file
 * whose afterAll never ran, would leave them in the temp folder: removeUnclosedTestData() removes
 * them (tests/support/preload.ts calls it after the whole run; scripts get it at process exit).
 */
const notClosed = new Set<string>()
let exitHooked = false
function removedAtExit(dir: string): string {
  if (!exitHooked) {
    exitHooked = true
    process.once('exit', removeUnclosedTestData)
  }
  notClosed.add(dir)
  return dir
}

/** Removes the data folders of every test server started here and not closed. */
export function removeUnclosedTestData() {
  for (const dir of notClosed) rmSync(dir, { recursive: true, force: true })
  notClosed.clear()
}

/**
 * A real server on 127.0.0.1, port 0, with its own temp-file database (a real libsql file),
 * quiet and with no model unless `OLLAMA_HOST` is given. `env` takes the same variables as
 * production (PROTOCOL.md §1).
 */
export async function startTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  // The folder is made here, not by createChatServer, so that stop() leaves it for a restart.
  const dataDir = env.DATA_DIR ?? removedAtExit(mkdtempSync(join(tmpdir(), 'chat-test-')))
  const removeOwnData = () => {
    if (env.DATA_DIR) return
    rmSync(dataDir, { recursive: true, force: true })
    notClosed.delete(dataDir)
  }
  let server: ChatServer
  try {
    server = await createChatServer({
      DATA_DIR: dataDir,
      JWT_SECRET: 'test-secret-that-is-long-enough-for-hs256-0123456789',
      OLLAMA_HOST: 'http://127.0.0.1:9', // nothing listens there unless a test says otherwise
      LOG_LEVEL: 'silent',
      SHUTDOWN_GRACE_MS: '0', // tests stop servers with runs in flight: don't wait for them
      REGISTER_RATE_LIMIT: '1000000', // every test user registers from 127.0.0.1; tests of the limit set their own
      ...env,
    })
  } catch (error) {
    removeOwnData()
    throw error
  }
  return {
    ...server,
    api: apiFetch(server.url),
    async close() {
      await server.stop()
      removeOwnData()
    },
  }
}
