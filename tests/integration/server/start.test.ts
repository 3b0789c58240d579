/**
 * The real entry point as a child process: `bun run src/index.ts` (what `bun run start` does).
 */
import { test, expect, describe, afterAll, setDefaultTimeout } from 'bun:test'
import { rmSync } from 'node:fs'
import { spawnServer } from '../../support/child-server'

// A hang guard, not a speed bound: argon2 and real servers are slow on a loaded 2-core machine.
// Set per file because bun 1.4 applies a preload's setDefaultTimeout to the first file only.
setDefaultTimeout(30_000)

const dirs: string[] = []
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

function start(env: Record<string, string>) {
  const child = spawnServer(env)
  dirs.push(child.dir)
  return child
}

describe('bun run src/index.ts', () => {
  test('logs one JSON line with its URL, serves /health, and exits 0 on SIGTERM', async () => {
    const { proc, url: logged, lines } = start({})
    try {
      const url = await logged()
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
    const { proc, lines, stdoutDone } = start({ PORT: 'abc' })
    const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text(), stdoutDone])
    const stdout = lines.join('\n')
    expect(code).not.toBe(0)
    expect(stderr + stdout).toContain('PORT')
    expect(stderr + stdout).not.toMatch(/\bat .+:\d+:\d+/) // a message, not a stack trace
  }, 20_000)
})
