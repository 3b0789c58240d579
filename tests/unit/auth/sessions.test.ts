/** The revocation view and its loading (src/auth/sessions), with an in-memory stand-in for the database. */
import { describe, expect, test } from 'bun:test'
import { sessionsService, type SessionChange } from '../../../src/auth/sessions/service'

type Row = {
  role: 'admin' | 'member'
  disabled: boolean
  sessionsValidAfter: number | null
  sessionsChangedAt?: number
}

/** Where reads wait while it is held: `hold()` closes it and answers the function that opens it. */
function gate() {
  let closed: Promise<void> | undefined
  return {
    passed: () => closed,
    hold() {
      let open!: () => void
      closed = new Promise((resolve) => (open = resolve))
      return () => {
        closed = undefined
        open()
      }
    },
  }
}

function fakeDb() {
  const rows = new Map<string, Row>()
  const revoked = new Map<string, { userId: string; at: number }>()
  const stateGate = gate()
  const pollGate = gate()
  let reads = 0
  return {
    rows,
    revoked,
    get reads() {
      return reads
    },
    /** Holds sessionChangesSince answers (read already) until `open()`. */
    holdPoll: pollGate.hold,
    /** Holds the next sessionState reads until `open()`. */
    hold: stateGate.hold,
    users: {
      async sessionState(id: string) {
        reads++
        const row = rows.get(id)
        const snapshot = row && { ...row, sessionsChangedAt: row.sessionsChangedAt ?? null }
        await stateGate.passed()
        return snapshot
      },
      async endSessionsBefore(id: string, at: number) {
        const row = rows.get(id)
        if (row) row.sessionsValidAfter = Math.max(row.sessionsValidAfter ?? 0, at)
      },
      async setDisabled(id: string, disabled: boolean) {
        const row = rows.get(id)
        if (row) Object.assign(row, { disabled, sessionsChangedAt: Date.now() })
      },
      async setRole(id: string, role: Row['role']) {
        const row = rows.get(id)
        if (row) row.role = role
      },
      async sessionChangesSince(since: number) {
        const snapshot = [...rows]
          .filter(([, r]) => (r.sessionsChangedAt ?? 0) > since)
          .map(([id, r]) => ({
            id,
            role: r.role,
            disabled: r.disabled,
            sessionsValidAfter: r.sessionsValidAfter,
            sessionsChangedAt: r.sessionsChangedAt!,
          }))
        await pollGate.passed()
        return snapshot
      },
    },
    refresh: {
      async revokeFamily(id: string) {
        revoked.set(id, { userId: '?', at: Date.now() })
      },
      async revokeAllOf() {},
      async revokeOthersOf() {
        return [] as string[]
      },
      async revokedSince(since: number) {
        return [...revoked]
          .filter(([, r]) => r.at > since)
          .map(([id, r]) => ({ id, userId: r.userId, revokedAt: r.at }))
      },
    },
  }
}

const token = (userId: string, familyId = 'f1', issuedAtMs = Date.now() - 10) => ({ userId, familyId, issuedAtMs })

describe('sessions service', () => {
  test('a user is read from the database once, then checked from memory', async () => {
    const db = fakeDb()
    db.rows.set('u1', { role: 'member', disabled: false, sessionsValidAfter: null })
    const sessions = sessionsService({ users: db.users, refresh: db.refresh, accessTokenTtlSeconds: 60 })
    for (let i = 0; i < 5; i++) expect(await sessions.check(token('u1'))).toEqual({ ok: true, role: 'member' })
    expect(db.reads).toBe(1)
    expect(await sessions.check(token('nobody'))).toEqual({ ok: false, code: 'session_revoked' })
    sessions.close()
  })

  test('a change that arrives while the user is being read is not lost to the older row', async () => {
    const db = fakeDb()
    db.rows.set('u1', { role: 'member', disabled: false, sessionsValidAfter: null })
    const sessions = sessionsService({ users: db.users, refresh: db.refresh, accessTokenTtlSeconds: 60 })
    const open = db.hold()
    const pending = sessions.check(token('u1')) // reads the row as it is now…
    await Bun.sleep(1)
    await sessions.setDisabled('u1', true) // …then the user is disabled before the read returns
    open()
    await pending
    expect(await sessions.check(token('u1'))).toEqual({ ok: false, code: 'account_disabled' })
    sessions.close()
  })

  test('families, valid-after, roles and deletion; broadcast and remote changes', async () => {
    const db = fakeDb()
    db.rows.set('u1', { role: 'member', disabled: false, sessionsValidAfter: null })
    const sent: SessionChange[] = []
    const told: (string | undefined)[] = []
    const sessions = sessionsService({
      users: db.users,
      refresh: db.refresh,
      accessTokenTtlSeconds: 60,
      broadcast: (c) => sent.push(c),
    })
    sessions.onChange((userId) => told.push(userId))
    const before = token('u1', 'f1')
    expect(await sessions.check(before)).toEqual({ ok: true, role: 'member' })

    await sessions.endFamily('u1', 'f1')
    expect(await sessions.check(before)).toEqual({ ok: false, code: 'session_revoked' })
    expect(await sessions.check(token('u1', 'f2'))).toEqual({ ok: true, role: 'member' })

    await sessions.setRole('u1', 'admin')
    expect(await sessions.check(token('u1', 'f2'))).toEqual({ ok: true, role: 'admin' })

    await sessions.endAll('u1', 'session_revoked')
    expect(await sessions.check(token('u1', 'f2'))).toEqual({ ok: false, code: 'session_revoked' })
    await Bun.sleep(2)
    expect(await sessions.check(token('u1', 'f3', Date.now()))).toEqual({ ok: true, role: 'admin' }) // a sign-in after it

    sessions.applyRemote({ op: 'all', userId: 'u1', at: Date.now(), code: 'account_deleted' })
    expect(await sessions.check(token('u1', 'f3', Date.now()))).toEqual({ ok: false, code: 'session_revoked' })
    expect(sent.map((c) => c.op)).toEqual(['family', 'role', 'all'])
    expect(told).toEqual(['u1', 'u1', 'u1', 'u1'])
    sessions.close()
  })

  test('start loads the families revoked within one token life', async () => {
    const db = fakeDb()
    db.rows.set('u1', { role: 'member', disabled: false, sessionsValidAfter: null })
    db.revoked.set('recent', { userId: 'u1', at: Date.now() - 1000 })
    db.revoked.set('old', { userId: 'u1', at: Date.now() - 3_600_000 })
    const sessions = sessionsService({ users: db.users, refresh: db.refresh, accessTokenTtlSeconds: 60, pollMs: 0 })
    await sessions.start()
    expect(await sessions.check(token('u1', 'recent'))).toEqual({ ok: false, code: 'session_revoked' })
    expect(await sessions.check(token('u1', 'old'))).toEqual({ ok: true, role: 'member' }) // its tokens expired long ago
    sessions.close()
  })

  test('polling picks up what another process wrote to the database (bun run admin, missed broadcasts)', async () => {
    const db = fakeDb()
    db.rows.set('u1', { role: 'member', disabled: false, sessionsValidAfter: null })
    db.rows.set('u2', { role: 'member', disabled: false, sessionsValidAfter: null })
    const told: (string | undefined)[] = []
    const sessions = sessionsService({ users: db.users, refresh: db.refresh, accessTokenTtlSeconds: 60, pollMs: 0 })
    sessions.onChange((userId) => told.push(userId))
    await sessions.start()
    expect(await sessions.check(token('u1'))).toEqual({ ok: true, role: 'member' })
    expect(await sessions.check(token('u2', 'f9'))).toEqual({ ok: true, role: 'member' })

    // Another process disables u1 and revokes a family of u2, straight in the database.
    Object.assign(db.rows.get('u1')!, { disabled: true, sessionsValidAfter: Date.now(), sessionsChangedAt: Date.now() })
    db.revoked.set('f9', { userId: 'u2', at: Date.now() })
    await sessions.poll()
    expect(await sessions.check(token('u1'))).toEqual({ ok: false, code: 'account_disabled' })
    expect(await sessions.check(token('u2', 'f9'))).toEqual({ ok: false, code: 'session_revoked' })
    expect(told.sort()).toEqual(['u1', 'u2'])
    // Nothing new: nobody is told again.
    await sessions.poll()
    expect(told.length).toBe(2)
    sessions.close()
  })

  test('a poll that read a row before a change applied here does not undo the change', async () => {
    const db = fakeDb()
    db.rows.set('u1', {
      role: 'member',
      disabled: false,
      sessionsValidAfter: null,
      sessionsChangedAt: Date.now() - 1000,
    })
    const sessions = sessionsService({ users: db.users, refresh: db.refresh, accessTokenTtlSeconds: 60, pollMs: 0 })
    await sessions.start()
    expect(await sessions.check(token('u1'))).toEqual({ ok: true, role: 'member' })
    const open = db.holdPoll()
    const polling = sessions.poll() // reads "enabled" (changed a second ago)…
    await Bun.sleep(2)
    await sessions.setDisabled('u1', true) // …then the user is disabled here
    open()
    await polling
    expect(await sessions.check(token('u1'))).toEqual({ ok: false, code: 'account_disabled' })
    sessions.close()
  })
})
