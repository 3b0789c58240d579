/**
 * `bun run admin` as a child process against the database a running test server uses
 * (PROTOCOL.md §9): each command's effect is checked through the server's HTTP API, and every
 * failure is a non-zero exit with one line saying why.
 */
import { test, expect, describe, setDefaultTimeout } from 'bun:test'
import { join } from 'node:path'
import { expectError, expectJson } from '../../support/http'
import { login, refresh } from '../../support/teams'
import { useTestServer } from '../../support/fixtures'

setDefaultTimeout(90_000)

const {
  server,
  users: [admin],
} = useTestServer({ users: ['admin'] })

const root = join(import.meta.dir, '../../..')

/** Runs `bun run admin …` with the server's database; returns exit code and output lines. */
async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const proc = Bun.spawn(['bun', 'run', 'admin', ...args], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      DATABASE_URL: server.config.databaseUrl,
      DATA_DIR: server.dataDir,
      JWT_SECRET: server.config.jwtSecret,
    },
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ])
  // `bun run` itself echoes the script line and adds 'error: script "admin" exited with code N'.
  const ours = err
    .split('\n')
    .filter((line) => line && !/^\$ /.test(line) && !/^error: script "admin" exited with code/.test(line))
  return { code, out: out.trim(), err: ours.join('\n') }
}

const email = `shell-${crypto.randomUUID()}@example.test`
const password = `pw-${crypto.randomUUID()}`

describe('bun run admin', () => {
  test('create-user makes an account the running server signs in; duplicates and weak passwords fail with one line', async () => {
    const made = await cli('create-user', '--email', email, '--password', password, '--name', 'Shell Person')
    expect(made).toMatchObject({ code: 0, err: '' })
    expect(made.out).toContain(email)
    const session = await expectJson(await login(server, { email, password }))
    expect(session.user).toMatchObject({ email, name: 'Shell Person', role: 'member' })

    const dup = await cli('create-user', '--email', email, '--password', password)
    expect(dup.code).toBe(1)
    expect(dup.err.split('\n')).toHaveLength(1)
    expect(dup.err).toMatch(/^error: .*already exists/)

    const weak = await cli('create-user', '--email', `weak-${crypto.randomUUID()}@example.test`, '--password', 'short')
    expect(weak.code).toBe(1)
    expect(weak.err).toMatch(/^error: weak password/)
    expect(weak.err.split('\n')).toHaveLength(1)
  })

  test('set-role promotes and demotes; the last admin stays (exit 1, "last admin")', async () => {
    const session = await expectJson(await login(server, { email, password }))
    await expectError(await server.api('/api/admin/users', { token: session.accessToken }), 403, 'forbidden')
    expect((await cli('set-role', '--email', email, '--role', 'admin')).code).toBe(0)
    await expectJson(await server.api('/api/admin/users', { token: session.accessToken }))
    expect((await cli('set-role', '--email', email, '--role', 'member')).code).toBe(0)
    await expectError(await server.api('/api/admin/users', { token: session.accessToken }), 403, 'forbidden')

    const last = await cli('set-role', '--email', admin.email, '--role', 'member')
    expect(last.code).toBe(1)
    expect(last.err).toMatch(/^error: last admin/)
    const disableLast = await cli('disable', '--email', admin.email)
    expect(disableLast.code).toBe(1)
    expect(disableLast.err).toMatch(/^error: last admin/)
    await expectJson(await server.api('/api/admin/users', { token: admin.accessToken }))
  })

  test('disable refuses login and refresh; enable lets the user back in', async () => {
    const session = await expectJson(await login(server, { email, password }))
    expect((await cli('disable', '--email', email)).code).toBe(0)
    await expectError(await login(server, { email, password }), 403, 'account_disabled')
    await expectError(await refresh(server, session.refreshToken), 401)
    expect((await cli('enable', '--email', email)).code).toBe(0)
    await expectJson(await login(server, { email, password }))
  })

  test('sign-out ends every refresh token; reset-password swaps the password and ends sessions', async () => {
    const session = await expectJson(await login(server, { email, password }))
    expect((await cli('sign-out', '--email', email)).code).toBe(0)
    await expectError(await refresh(server, session.refreshToken), 401)

    const again = await expectJson(await login(server, { email, password }))
    const fresh = `new-${crypto.randomUUID()}`
    expect((await cli('reset-password', '--email', email, '--password', fresh)).code).toBe(0)
    await expectError(await login(server, { email, password }), 401, 'invalid_credentials')
    await expectError(await refresh(server, again.refreshToken), 401)
    await expectJson(await login(server, { email, password: fresh }))
  })

  test('unknown users, unknown commands and missing options fail with a reason and a non-zero exit', async () => {
    const unknown = await cli('disable', '--email', 'nobody@example.test')
    expect(unknown.code).toBe(1)
    expect(unknown.err).toBe('error: unknown user nobody@example.test')
    const badCommand = await cli('explode', '--email', email)
    expect(badCommand.code).toBe(2)
    expect(badCommand.err).toMatch(/^error: unknown command "explode"/)
    const missing = await cli('set-role', '--email', email)
    expect(missing.code).toBe(2)
    expect(missing.err).toMatch(/^error: set-role needs --role/)
    const badRole = await cli('set-role', '--email', email, '--role', 'root')
    expect(badRole.code).toBe(2)
    const help = await cli('--help')
    expect(help.code).toBe(0)
    expect(help.out).toContain('create-user')
  })

  test('the shell’s actions are in the audit log, with no actor and via "cli", without the password', async () => {
    const audit = await expectJson(await server.api('/api/admin/audit?limit=200', { token: admin.accessToken }))
    const fromShell = audit.events.filter((e: any) => e.detail?.via === 'cli')
    expect(new Set(fromShell.map((e: any) => e.action))).toEqual(
      new Set(['user_created', 'user_updated', 'user_signed_out', 'password_changed']),
    )
    expect(fromShell.every((e: any) => e.actorId === null)).toBe(true)
    expect(JSON.stringify(audit)).not.toContain(password)
  })
})
