import { afterAll } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { Subprocess } from 'bun'
import { apiFetch } from '../../src/testing/server'

const entry = resolve(import.meta.dir, '../../src/index.ts')

export interface ChildServer {
  proc: Subprocess<'ignore', 'pipe', 'pipe'>
  /** The folder it runs in (its cwd, with data/ inside). */
  dir: string
  /** Every stdout line read so far. */
  lines: string[]
  /** Resolves with the URL from its "listening" log line (rejects if it exits first). */
  url(): Promise<string>
  /** Resolves once stdout has ended and every line is in `lines`. */
  stdoutDone: Promise<void>
}

/**
 * The real entry point (`bun run src/index.ts`, what `bun run start` does) as a child process,
 * so tests can SIGTERM or SIGKILL it. Runs in `dir` (a fresh temp folder by default, so no
 * `.env` or ./data of the checkout is used) with a clean environment plus `env`. `command` runs
 * something else instead (the single-file build).
 */
export function spawnServer(
  env: Record<string, string> = {},
  dir = mkdtempSync(join(tmpdir(), 'chat-child-')),
  command: string[] = [process.execPath, 'run', entry],
): ChildServer {
  const proc = Bun.spawn(command, {
    cwd: dir,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: dir,
      PORT: '0',
      DATABASE_URL: `file:${join(dir, 'data', 'chat.db')}`,
      OLLAMA_HOST: 'http://127.0.0.1:9',
      REGISTER_RATE_LIMIT: '1000000', // every test user registers from 127.0.0.1
      ...env,
    },
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const lines: string[] = []
  const { promise: urlPromise, resolve: resolveUrl, reject: rejectUrl } = Promise.withResolvers<string>()
  urlPromise.catch(() => {}) // only a test that asks for the URL cares
  const stdoutDone = (async () => {
    const decoder = new TextDecoder()
    let buffered = ''
    for await (const chunk of proc.stdout) {
      buffered += decoder.decode(chunk, { stream: true })
      let nl: number
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl)
        buffered = buffered.slice(nl + 1)
        lines.push(line)
        try {
          const parsed = JSON.parse(line)
          if (typeof parsed.url === 'string') resolveUrl(parsed.url)
        } catch {}
      }
    }
    rejectUrl(new Error(`server exited before logging its URL; stdout: ${lines.join('\n')}`))
  })()
  return { proc, dir, lines, url: () => urlPromise, stdoutDone }
}

/** A child server that logged its URL, with what tests call it through. */
export interface RunningChild extends ChildServer {
  base: string
  wsUrl: string
  /** fetch against it, like a test server's `api` (registerUser takes it). */
  api: ReturnType<typeof apiFetch>
}

/**
 * Child servers for a test file: `start(env, dir?)` spawns the entry point (the file's env, then
 * `env`) and waits for its URL. After the file's tests (afterAll) any child still running is
 * killed and the temp folders made here are removed — also when a test failed.
 */
export function useChildServers(fileEnv: () => Record<string, string> = () => ({})) {
  const children: ChildServer[] = []
  const dirs: string[] = []
  afterAll(async () => {
    for (const child of children)
      if (child.proc.exitCode === null && child.proc.signalCode === null) {
        child.proc.kill('SIGKILL')
        await child.proc.exited
      }
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  })
  return async function start(env: Record<string, string> = {}, dir?: string): Promise<RunningChild> {
    const child = spawnServer({ ...fileEnv(), ...env }, dir)
    children.push(child)
    if (!dir) dirs.push(child.dir)
    const base = await child.url()
    return { ...child, base, wsUrl: `${base.replace(/^http/, 'ws')}/ws`, api: apiFetch(base) }
  }
}
