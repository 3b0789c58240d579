/** The revocation view and its loading (src/auth/sessions), with an in-memory stand-in for the database. */
import { describe, expect, test } from 'bun:test'
import { sessionsService, type SessionChange } from '../../../src/auth/sessions/service'

type Row = { role: 'admin' | 'user'; disabled: boolean; sessionsValidAfter: number | null }

function fakeDb() {
  const rows = new Map<string, Row>()
  const revoked = new Map<string, number>()
  let gate: Promise<void> | undefined
  let reads = 0
  return {
    rows,
    revoked,
    get reads() {
      return reads
    },
    /** Holds the next sessionState reads until `open()`. */
    hold() {
      let open!: () => void
      gate = new Promise((resolve) => (open = resolve))
      return () => {
        gate = undefined
        open()
      }
    },
    users: {
      async sessionState(id: string) {
        reads++
        const snapshot = rows.get(id) && { ...rows.get(id)! }
        await gate
        return snapshot
      },
      async endSessionsBefore(id: string, at: number) {
        const row = rows.get(id)
        if (row) row.sessionsValidAfter = Math.max(row.sessionsValidAfter ?? 0, at)
      },
      async setDisabled(id: string, disabled: boolean) {
        const row = rows.get(id)
        if (row) row.disabled = disabled
      },
      async setRole(id: string, role: Row['role']) {
        const row = rows.get(id)
        if (row) row.role = role
      },
    },
    refresh: {
      async revokeFamily(id: string) {
        revoked.set(id, Date.now())
      },
      async revokeAllOf() {},
      async revokeOthersOf() {
        return [] as string[]
      },
      async revokedSince(since: number) {
        return [...revoked].filter(([, at]) => at > since).map(([id, revokedAt]) => ({ id, revokedAt }))
      },
    },
  }
}

const token = (userId: string, familyId = 'f1', issuedAtMs = Date.now() - 10) => ({ userId, familyId, issuedAtMs })

describe('sessions service', () => {
  test('a user is read from the database once, then checked from memory', async () => {
    const db = fakeDb()
    db.rows.set('u1', { role: 'user', disabled: false, sessionsValidAfter: null })
    const sessions = sessionsService({ users: db.users, refresh: db.refresh, accessTokenTtlSeconds: 60 })
    for (let i = 0; i < 5; i++) expect(await sessions.check(token('u1'))).toEqual({ ok: true, role: 'user' })
    expect(db.reads).toBe(1)
    expect(await sessions.check(token('nobody'))).toEqual({ ok: false, code: 'session_revoked' })
    sessions.close()
  })

  test('a change that arrives while the user is being read is not lost to the older row', async () => {
    const db = fakeDb()
    db.rows.set('u1', { role: 'user', disabled: false, sessionsValidAfter: null })
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
    db.rows.set('u1', { role: 'user', disabled: false, sessionsValidAfter: null })
    const sent: SessionChange[] = []
    const told: (string | undefined)[] = []
    const sessions = sessionsService({ users: db.users, refresh: db.refresh, accessTokenTtlSeconds: 60, broadcast: (c) => sent.push(c) })
    sessions.onChange((userId) => told.push(userId))
    const before = token('u1', 'f1')
    expect(await sessions.check(before)).toEqual({ ok: true, role: 'user' })

    await sessions.endFamily('u1', 'f1')
    expect(await sessions.check(before)).toEqual({ ok: false, code: 'session_revoked' })
    expect(await sessions.check(token('u1', 'f2'))).toEqual({ ok: true, role: 'user' })

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
    db.rows.set('u1', { role: 'user', disabled: false, sessionsValidAfter: null })
    db.revoked.set('recent', Date.now() - 1000)
    db.revoked.set('old', Date.now() - 3_600_000)
    const sessions = sessionsService({ users: db.users, refresh: db.refresh, accessTokenTtlSeconds: 60 })
    await sessions.start()
    expect(await sessions.check(token('u1', 'recent'))).toEqual({ ok: false, code: 'session_revoked' })
    expect(await sessions.check(token('u1', 'old'))).toEqual({ ok: true, role: 'user' }) // its tokens expired long ago
    sessions.close()
  })
})
