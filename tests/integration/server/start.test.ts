/**
 * The real entry point as a child process: `bun run src/index.ts` (what `bun run start` does).
 */
import { test, expect, describe, afterAll, setDefaultTimeout } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

// A hang guard, not a speed bound: argon2 and real servers are slow on a loaded 2-core machine.
// Set per file because bun 1.4 applies a preload's setDefaultTimeout to the first file only.
setDefaultTimeout(30_000)

const entry = resolve(import.meta.dir, '../../../src/index.ts')
const dirs: string[] = []
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

/**
 * Starts the server in a fresh temp folder (its cwd, so no `.env` or ./data of the checkout is
 * used) with a clean environment plus `env`.
 */
function spawnServer(env: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'chat-start-test-'))
  dirs.push(dir)
  const proc = Bun.spawn([process.execPath, 'run', entry], {
    cwd: dir,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: dir,
      PORT: '0',
      DATABASE_URL: `file:${join(dir, 'data', 'chat.db')}`,
      OLLAMA_HOST: 'http://127.0.0.1:9',
      ...env,
    },
    stdout: 'pipe',
    stderr: 'pipe',
  })
  return { proc, dir }
}

/** Reads stdout line by line until `match` returns something (or the process ends). */
async function readLinesUntil<T>(stream: ReadableStream<Uint8Array>, match: (line: string) => T | undefined): Promise<{ found?: T; lines: string[] }> {
  const lines: string[] = []
  const decoder = new TextDecoder()
  let buffered = ''
  const reader = stream.getReader()
  try {
    while (true) {
      const { value, done } = await reader.read()
      if (done) return { lines }
      buffered += decoder.decode(value, { stream: true })
      let nl: number
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl)
        buffered = buffered.slice(nl + 1)
        lines.push(line)
        const found = match(line)
        if (found !== undefined) return { found, lines }
      }
    }
  } finally {
    reader.releaseLock()
  }
}

describe('bun run src/index.ts', () => {
  test('logs one JSON line with its URL, serves /health, and exits 0 on SIGTERM', async () => {
    const { proc } = spawnServer({})
    try {
      const { found: url, lines } = await readLinesUntil(proc.stdout, (line) => {
        try {
          const entry = JSON.parse(line)
          return typeof entry.url === 'string' ? (entry.url as string) : undefined
        } catch {
          return undefined
        }
      })
      if (!url) throw new Error(`no URL logged; stdout: ${lines.join('\n')}; stderr: ${await new Response(proc.stderr).text()}`)
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      expect(url).not.toMatch(/:0$/)
      // Every line so far is structured JSON; exactly one carries the URL.
      const parsed = lines.map((l) => JSON.parse(l))
      expect(parsed.filter((l) => l.url).length).toBe(1)
      expect(parsed.at(-1)).toMatchObject({ level: 'info', msg: expect.stringContaining(url), url })

      const health = await fetch(`${url}/health`)
      expect(health.status).toBe(200)
      expect(await health.json()).toEqual({ status: 'ok' })

      proc.kill('SIGTERM')
      // The bun:test timeout bounds "promptly": a hang fails the test instead of passing late.
      expect(await proc.exited).toBe(0)
      expect(proc.signalCode).toBeNull()
    } finally {
      if (proc.exitCode === null) proc.kill('SIGKILL')
    }
  }, 20_000)

  test('a bad config value exits non-zero with a message naming the variable', async () => {
    const { proc } = spawnServer({ PORT: 'abc' })
    const [code, stderr, stdout] = await Promise.all([proc.exited, new Response(proc.stderr).text(), new Response(proc.stdout).text()])
    expect(code).not.toBe(0)
    expect(stderr + stdout).toContain('PORT')
    expect(stderr + stdout).not.toMatch(/\bat .+:\d+:\d+/) // a message, not a stack trace
  }, 20_000)
})
