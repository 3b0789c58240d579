/**
 * `bun run backup <file>` (the real CLI, as a child process) while the server serves a steady
 * stream of runs: the copy passes integrity_check, holds every run finished before the backup
 * began, and a server started on it works.
 */
import { afterAll, expect, setDefaultTimeout, test } from 'bun:test'
import { createClient } from '@libsql/client'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { PAGE_SIZE } from '../../../src/db/page-size'
import { startChatStack } from '../../support/chat-stack'
import { startTestServer, type TestServer } from '../../support/server'
import { expectJson } from '../../support/http'
import { registerUser, type TestUser } from '../../support/users'

setDefaultTimeout(60_000)

const root = resolve(import.meta.dir, '../../..')
const dirs: string[] = []
/** A temp folder removed after the file's tests. */
function tempDir(what: string) {
  const dir = mkdtempSync(join(tmpdir(), `chat-backup-${what}-`))
  dirs.push(dir)
  return dir
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

function runBackup(databaseUrl: string, target: string) {
  return Bun.spawn([process.execPath, 'run', 'backup', target], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', DATABASE_URL: databaseUrl },
    stdout: 'pipe',
    stderr: 'pipe',
  })
}

/** Restore = start a server on the copy; `check` runs there with the account's fresh token. */
async function onRestored(
  target: string,
  user: TestUser,
  check: (restored: TestServer, token: string) => Promise<void>,
) {
  const restored = await startTestServer({ DATA_DIR: tempDir('restored'), DATABASE_URL: `file:${target}` })
  try {
    const login = await expectJson(
      await restored.api('/api/auth/login', { body: { email: user.email, password: user.password } }),
    )
    await check(restored, login.accessToken)
  } finally {
    await restored.close()
  }
}

test('a backup taken under write load is consistent, complete and starts a server', async () => {
  const dataDir = tempDir('src')
  const outDir = tempDir('out')
  const stack = await startChatStack({ env: { DATA_DIR: dataDir, MAX_RUNS_PER_USER: '20' } })
  const { user, ws } = await stack.userWithSocket('backup')
  const finished: string[] = []
  let writing = true
  // Three writers, each starting a run as soon as its last one finished.
  const writer = async () => {
    while (writing) {
      const { runId } = await ws.chat(`load ${finished.length}`)
      await ws.completion(runId)
      finished.push(runId)
    }
  }
  const writers = [writer(), writer(), writer()]
  try {
    await ws.until(() => finished.length >= 20, 30_000, '20 finished runs')
    const before = [...finished] // every run here was committed before the backup began
    const target = join(outDir, 'copy.db')
    const child = runBackup(stack.server.config.databaseUrl, target)
    const [code, out, err] = await Promise.all([
      child.exited,
      new Response(child.stdout).text(),
      new Response(child.stderr).text(),
    ])
    expect({ code, failed: err.includes('backup failed') }).toEqual({ code: 0, failed: false })
    expect(out).toContain('integrity ok')
    // The server kept serving writes through the backup and after it.
    await ws.until(() => finished.length >= before.length + 5, 30_000, 'runs after the backup')
    writing = false
    await Promise.all(writers)

    const copy = createClient({ url: `file:${target}` })
    try {
      const integrity = await copy.execute('PRAGMA integrity_check')
      expect(integrity.rows.map((r) => r[0])).toEqual(['ok'])
      const stored = await copy.execute({
        sql: `SELECT id FROM runs WHERE status = 'completed' AND id IN (${before.map(() => '?').join(',')})`,
        args: before,
      })
      expect(stored.rows.length).toBe(before.length)
      // Each of those runs has its whole journal, ending with agent_completed.
      const ends = await copy.execute({
        sql: `SELECT COUNT(*) AS n FROM run_events WHERE type = 'agent_completed' AND run_id IN (${before.map(() => '?').join(',')})`,
        args: before,
      })
      expect(Number(ends.rows[0].n)).toBe(before.length)
    } finally {
      copy.close()
    }

    // Restore = start a server on the copy: the account logs in and the answers are there.
    await onRestored(target, user, async (restored, token) => {
      const run = await expectJson(await restored.api(`/api/runs/${before[0]}`, { token }))
      expect(run.run.status).toBe('completed')
    })
  } finally {
    writing = false
    await Promise.allSettled(writers)
    await stack.close()
  }
})

test('the backup refuses to overwrite a file and says why, with a non-zero exit', async () => {
  const outDir = tempDir('out')
  const server = await startTestServer()
  try {
    const target = join(outDir, 'exists.db')
    await Bun.write(target, 'keep me')
    const child = runBackup(server.config.databaseUrl, target)
    const [code, err] = await Promise.all([child.exited, new Response(child.stderr).text()])
    expect(code).toBe(1)
    expect(err).toContain('already exists')
    expect(await Bun.file(target).text()).toBe('keep me')
  } finally {
    await server.close()
  }
})

test("a database made with 16 KiB pages is copied with today's page size, and the copy serves", async () => {
  const dataDir = tempDir('pages')
  const outDir = tempDir('out')
  const databaseUrl = `file:${join(dataDir, 'chat.db')}`
  const pageSize = async (url: string) => {
    const client = createClient({ url })
    try {
      return Number((await client.execute('PRAGMA page_size')).rows[0][0])
    } finally {
      client.close()
    }
  }
  // The file as an older server made it: 16 KiB pages, WAL, before any table.
  const old = createClient({ url: databaseUrl })
  await old.execute('PRAGMA page_size = 16384')
  await old.execute('PRAGMA journal_mode = WAL')
  old.close()
  const server = await startTestServer({ DATA_DIR: dataDir, DATABASE_URL: databaseUrl })
  const target = join(outDir, 'copy.db')
  let user: TestUser
  try {
    user = await registerUser(server, 'pages')
    await expectJson(
      await server.api('/api/notes', { token: user.accessToken, body: { title: 'kept', body: 'x' } }),
      201,
    )
    expect(await pageSize(databaseUrl)).toBe(16384) // a server keeps an existing file's pages
    const child = runBackup(databaseUrl, target)
    expect(await child.exited).toBe(0)
    expect(await pageSize(databaseUrl)).toBe(16384)
  } finally {
    await server.close()
  }
  expect(await pageSize(`file:${target}`)).toBe(PAGE_SIZE)
  await onRestored(target, user, async (restored, token) => {
    const { notes } = await expectJson(await restored.api('/api/notes', { token }))
    expect(notes.map((n: { title: string }) => n.title)).toEqual(['kept'])
  })
})
