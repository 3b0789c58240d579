/**
 * A real `redis-server` (Debian package `redis-server`) for the cluster tests: a free loopback
 * port, no persistence (`--save '' --appendonly no`), in the foreground as a child process, so
 * `stop()` / `restart()` (same port) act on it like an operator would.
 *
 * Without the binary `redisAvailable` is false and the cluster tests skip with a message
 * (`describe.skipIf(!redisAvailable)`); `.ci/run` installs the package when it is missing.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Subprocess } from 'bun'

/** The binary: $REDIS_SERVER when set (only it), else PATH, else Debian's /usr/bin/redis-server. */
export const redisBinary: string | undefined = (() => {
  const candidates = process.env.REDIS_SERVER
    ? [process.env.REDIS_SERVER]
    : [Bun.which('redis-server') ?? undefined, '/usr/bin/redis-server']
  return candidates.find((c): c is string => !!c && existsSync(c))
})()

export const redisAvailable = redisBinary !== undefined

/** Says once, clearly, why the cluster tests of a file are skipped. */
export function warnIfNoRedis(what: string) {
  if (!redisAvailable) {
    console.warn(
      `[skip] ${what}: no redis-server binary (install the Debian package "redis-server" — .ci/run does — or set REDIS_SERVER=/path/to/redis-server)`,
    )
  }
}

/** A free TCP port on 127.0.0.1 (bound, read, released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

export interface TestRedis {
  port: number
  /** redis://127.0.0.1:<port> */
  url: string
  /** Every stdout/stderr line of the current and past lives of the server. */
  log: string[]
  /** True while a server process is up (between start/restart and stop). */
  readonly running: boolean
  /** Stops the server (SIGTERM, then SIGKILL after 3 s). With `kill: true`, SIGKILL at once. */
  stop(opts?: { kill?: boolean }): Promise<void>
  /** Starts it again on the same port (stopping it first when it runs). Empty: nothing is saved. */
  restart(): Promise<void>
  /** Stops it and removes its folder. */
  close(): Promise<void>
}

async function waitForPing(port: number, proc: Subprocess, log: string[], timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`redis-server exited with ${proc.exitCode}:\n${log.join('\n')}`)
    const ok = await new Promise<boolean>((resolve) => {
      let answer = ''
      Bun.connect({
        hostname: '127.0.0.1',
        port,
        socket: {
          open: (s) => void s.write('PING\r\n'),
          data: (s, data) => {
            answer += data.toString()
            if (answer.includes('\r\n')) {
              s.end()
              resolve(answer.startsWith('+PONG'))
            }
          },
          error: () => resolve(false),
          close: () => resolve(answer.startsWith('+PONG')),
          connectError: () => resolve(false),
        },
      }).catch(() => resolve(false))
    })
    if (ok) return
    if (Date.now() > deadline)
      throw new Error(`redis-server on port ${port} did not answer PING within ${timeoutMs} ms:\n${log.join('\n')}`)
    await Bun.sleep(25)
  }
}

/** Starts a fresh redis-server on a free loopback port; resolves once it answers PING. */
export async function startRedis(): Promise<TestRedis> {
  if (!redisBinary) throw new Error('redis-server is not installed')
  const dir = mkdtempSync(join(tmpdir(), 'chat-redis-'))
  const log: string[] = []
  let proc: Subprocess<'ignore', 'pipe', 'pipe'> | undefined
  let port = 0

  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder()
    let buffered = ''
    for await (const chunk of stream) {
      buffered += decoder.decode(chunk, { stream: true })
      const lines = buffered.split('\n')
      buffered = lines.pop()!
      log.push(...lines)
    }
  }

  async function launch(attempts = 5) {
    for (let attempt = 1; ; attempt++) {
      port ||= await freePort()
      const child = Bun.spawn(
        [
          redisBinary!,
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--save',
          '',
          '--appendonly',
          'no',
          '--dir',
          dir,
          '--daemonize',
          'no',
          '--protected-mode',
          'yes',
        ],
        {
          cwd: dir,
          stdin: 'ignore',
          stdout: 'pipe',
          stderr: 'pipe',
        },
      )
      void pump(child.stdout)
      void pump(child.stderr)
      try {
        await waitForPing(port, child, log)
        proc = child
        return
      } catch (error) {
        child.kill('SIGKILL')
        await child.exited
        // Someone took the port between freePort() and the bind: a first start may pick another.
        if (attempt >= attempts || proc !== undefined) throw error
        if (!restarting) port = 0
        else await Bun.sleep(200) // a restart must keep its port: wait for it to be free again
      }
    }
  }

  let restarting = false
  await launch()

  async function stop(opts: { kill?: boolean } = {}) {
    const child = proc
    if (!child) return
    proc = undefined
    if (child.exitCode === null) {
      child.kill(opts.kill ? 'SIGKILL' : 'SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000)
      await child.exited
      clearTimeout(timer)
    }
  }

  return {
    get port() {
      return port
    },
    get url() {
      return `redis://127.0.0.1:${port}`
    },
    log,
    get running() {
      return proc !== undefined && proc.exitCode === null
    },
    stop,
    async restart() {
      await stop()
      restarting = true
      try {
        await launch(20)
      } finally {
        restarting = false
      }
    },
    async close() {
      await stop({ kill: true })
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
