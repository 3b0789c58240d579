/**
 * The server under test: the real server (startServer(loadConfig(...))) on 127.0.0.1:0 with a
 * temp-file database, wired to the scripted Ollama of src/testing/fake-ollama.ts.
 */
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import type { RunningServer } from '../../../src/app'
import type { ChatHandler, FakeOllama, FakeOllamaOptions } from '../../../src/testing/fake-ollama'
import { benchTempDir } from './temp-dir'

export interface BenchServer {
  server: RunningServer
  /** The scripted Ollama when it runs in this process (absent with `ollamaUrl`). */
  fake?: FakeOllama
  url: string
  wsUrl: string
  dataDir: string
  env: Record<string, string>
  close(): Promise<void>
}

/**
 * Settings that keep the benchmarks about the server, not about its limits: many model slots
 * and a long model queue (the fairness benchmark overrides them), generous run caps.
 * Variables a server version does not know are ignored by loadConfig.
 */
export const BENCH_ENV: Record<string, string> = {
  LOG_LEVEL: 'error',
  SHUTDOWN_GRACE_MS: '0',
  OLLAMA_SLOTS: '256',
  LLM_QUEUE_MAX: '100000',
  LLM_QUEUE_PER_USER: '1000',
  LOGIN_RATE_LIMIT: '100000',
  REGISTER_RATE_LIMIT: '1000000', // every bench user registers from one address
  ACCESS_TOKEN_TTL: '3600',
}

/**
 * The real server, in this process, with a temp-file database and the scripted Ollama — in
 * this process too (`handler`), or, with `ollamaUrl`, one running in another process
 * (startModelProcess), so its streaming costs no CPU of the server's process (like a real Ollama).
 */
export async function startBenchServer(
  opts: {
    env?: Record<string, string>
    handler?: ChatHandler
    fake?: Omit<FakeOllamaOptions, 'handler'>
    ollamaUrl?: string
  } = {},
): Promise<BenchServer> {
  const { startFakeOllama } = await import('../../../src/testing/fake-ollama')
  const { loadConfig } = await import('../../../src/config')
  const { startServer } = await import('../../../src/app')
  const fake = opts.ollamaUrl ? undefined : await startFakeOllama({ ...opts.fake, handler: opts.handler })
  const dataDir = benchTempDir('chat-bench-')
  const env: Record<string, string> = {
    HOST: '127.0.0.1',
    PORT: '0',
    DATABASE_URL: `file:${join(dataDir, 'chat.db')}`,
    DATA_DIR: dataDir,
    JWT_SECRET: `bench-secret-${crypto.randomUUID()}-0123456789abcdef`,
    OLLAMA_HOST: opts.ollamaUrl ?? fake!.url,
    ...BENCH_ENV,
    ...opts.env,
  }
  const server = await startServer(loadConfig(env))
  return {
    server,
    fake,
    url: server.url,
    wsUrl: server.url.replace(/^http/, 'ws') + '/ws',
    dataDir,
    env,
    async close() {
      await server.stop()
      await fake?.close()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

/** The last user message of a model request (what the scripted model answers to). */
export const lastUserText = (messages: { role: string; content: string }[]) =>
  [...messages].reverse().find((m) => m.role === 'user')?.content ?? ''

/**
 * The scripted model of the validation runs: echoes the question; a question containing
 * `[tool]` gets one `calculate` tool call first (when the agent offers it), so those runs
 * carry all five critical events.
 */
export function echoHandler(
  opts: { chunkSize?: number; chunkDelayMs?: number; firstChunkDelayMs?: number; padding?: number } = {},
): ChatHandler {
  const pad = ' lorem ipsum dolor sit amet'.repeat(Math.ceil((opts.padding ?? 0) / 27)).slice(0, opts.padding ?? 0)
  return (req) => {
    const text = lastUserText(req.messages)
    const toolOffered = req.tools?.some((t: any) => t?.function?.name === 'calculate')
    const toolDone = req.messages.some((m: any) => m.role === 'tool')
    if (text.includes('[tool]') && toolOffered && !toolDone)
      return {
        toolCalls: [{ name: 'calculate', arguments: { expression: '6*7' } }],
        firstChunkDelayMs: opts.firstChunkDelayMs,
      }
    return {
      content: `echo: ${text}${pad}`,
      chunkSize: opts.chunkSize ?? 4,
      chunkDelayMs: opts.chunkDelayMs ?? 0,
      firstChunkDelayMs: opts.firstChunkDelayMs ?? 0,
    }
  }
}
