/**
 * The embedding API (`import { createChatServer } from 'local-chat-server'`): the whole chat
 * server inside another Bun program — same code path as `bun run start`, minus signals and
 * process exits, which belong to the host program.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Config, loadConfig } from './config'
import { type RunningServer, startServer } from './app'

/**
 * Settings are the same variables as production (README "Configuration"), as strings:
 * `{ OLLAMA_HOST: 'http://127.0.0.1:11434', LOG_LEVEL: 'warn' }`. The host's process.env is
 * NOT read, so two servers in one program never share settings by accident.
 */
export type ChatServerSettings = Record<string, string | undefined>

export interface ChatServer extends RunningServer {
  /** http://127.0.0.1:<port> */
  url: string
  /** The port actually bound (PORT defaults to 0 here: a free one). */
  port: number
  /** ws://…/ws — the WebSocket endpoint (PROTOCOL.md §3). */
  wsUrl: string
  config: Config
  /** Where the database, secret and uploads live. */
  dataDir: string
  /** Stops the server; a data directory it created itself is deleted. */
  stop(): Promise<void>
}

/**
 * Starts a server on 127.0.0.1, port 0 unless PORT says otherwise. The data directory is
 * DATA_DIR, or else a fresh temp directory that stop() removes; the database defaults to
 * `chat.db` inside it (a real SQLite file), or DATABASE_URL (`:memory:` works too).
 */
export async function createChatServer(settings: ChatServerSettings = {}): Promise<ChatServer> {
  const given = Object.fromEntries(Object.entries(settings).filter(([, value]) => value !== undefined))
  const ownsDataDir = !given.DATA_DIR
  const dataDir = given.DATA_DIR ?? mkdtempSync(join(tmpdir(), 'chat-server-'))
  const removeOwnData = () => ownsDataDir && rmSync(dataDir, { recursive: true, force: true })
  let server: RunningServer
  let config: Config
  try {
    config = loadConfig({ PORT: '0', DATA_DIR: dataDir, DATABASE_URL: `file:${join(dataDir, 'chat.db')}`, ...given })
    server = await startServer(config)
  } catch (error) {
    removeOwnData()
    throw error
  }
  return {
    ...server,
    config,
    dataDir,
    wsUrl: `${server.url.replace(/^http/, 'ws')}/ws`,
    async stop() {
      await server.stop()
      removeOwnData()
    },
  }
}

export { ConfigError, type Config } from './config'
