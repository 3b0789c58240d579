/**
 * What an operator holding the database file does not get (docs/security.md › An operator):
 * passwords are stored only as argon2id hashes, refresh tokens only as their SHA-256.
 */
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { useTestServer } from '../../support/fixtures'

setDefaultTimeout(30_000) // a hang guard for a file that starts a server and hashes passwords

const {
  server,
  users: [user],
} = useTestServer({ users: ['at-rest'] })

/** Every text value in every row of every table of the database file. */
async function everyStoredText(): Promise<string> {
  const { client } = server.services.database
  const tables = await client.execute(
    "select name from sqlite_master where type = 'table' and name not like 'sqlite_%'",
  )
  const parts: string[] = []
  for (const row of tables.rows) {
    const rows = await client.execute(`select * from "${String(row.name).replaceAll('"', '""')}"`)
    for (const r of rows.rows) for (const value of Object.values(r)) if (typeof value === 'string') parts.push(value)
  }
  return parts.join('\n')
}

describe('secrets at rest', () => {
  test('the password is kept only as an argon2id hash, and the refresh token only as its SHA-256', async () => {
    const { client } = server.services.database
    const [row] = (await client.execute({ sql: 'select password_hash from users where id = ?', args: [user.id] })).rows
    expect(String(row!.password_hash)).toStartWith('$argon2id$')
    expect(await Bun.password.verify(user.password, String(row!.password_hash))).toBe(true)

    const sha256 = new Bun.CryptoHasher('sha256').update(user.refreshToken).digest('hex')
    const stored = await everyStoredText()
    expect(stored).toContain(sha256) // the control: the token's hash is there…
    expect(stored).not.toContain(user.refreshToken) // …the token and the password are not
    expect(stored).not.toContain(user.password)
  })
})
