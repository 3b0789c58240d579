/**
 * createChatServer (src/embed.ts), the embedding API: a server inside this process on a free
 * port with a temp data directory that stop() removes; a DATA_DIR the caller gives is kept;
 * bad settings reject with the variable's name and leave nothing behind.
 */
import { expect, setDefaultTimeout, test } from 'bun:test'
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigError, createChatServer } from '../../../src/embed'

setDefaultTimeout(30_000)

const quiet = { LOG_LEVEL: 'silent', OLLAMA_HOST: 'http://127.0.0.1:9' }

test('runs in-process on a free port with a temp database that stop() removes', async () => {
  const server = await createChatServer(quiet)
  try {
    expect(server.port).toBeGreaterThan(0)
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`)
    expect(server.wsUrl).toBe(`ws://127.0.0.1:${server.port}/ws`)
    expect(server.config.databaseUrl).toBe(`file:${join(server.dataDir, 'chat.db')}`)
    expect((await fetch(`${server.url}/health`)).status).toBe(200)
    const registered = await fetch(`${server.url}/api/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'embed@example.test', password: `pw-${crypto.randomUUID()}`, name: 'embed' }),
    })
    expect(registered.status).toBe(201)
    expect(existsSync(join(server.dataDir, 'chat.db'))).toBe(true)
  } finally {
    await server.stop()
  }
  expect(existsSync(server.dataDir)).toBe(false)
})

test('a DATA_DIR the caller gives is used and kept', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'embed-own-'))
  try {
    const server = await createChatServer({ ...quiet, DATA_DIR: dir })
    expect(server.dataDir).toBe(dir)
    await server.stop()
    expect(existsSync(join(dir, 'chat.db'))).toBe(true)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('bad settings reject with the variable named, and no temp directory is left', async () => {
  // A temp root of this test's own (os.tmpdir() reads TMPDIR at each call), so nothing else writes there.
  const root = mkdtempSync(join(tmpdir(), 'embed-tmp-'))
  const saved = process.env.TMPDIR
  process.env.TMPDIR = root
  try {
    const error = await createChatServer({ ...quiet, PORT: 'not-a-port' }).catch((e) => e)
    expect(error).toBeInstanceOf(ConfigError)
    expect(error.message).toContain('PORT')
    expect(readdirSync(root)).toEqual([])
    // The control: a good start does create its directory there.
    const server = await createChatServer(quiet)
    expect(readdirSync(root)).toHaveLength(1)
    await server.stop()
    expect(readdirSync(root)).toEqual([])
  } finally {
    if (saved === undefined) delete process.env.TMPDIR
    else process.env.TMPDIR = saved
    rmSync(root, { recursive: true, force: true })
  }
})
