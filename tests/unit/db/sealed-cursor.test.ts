import { describe, expect, test } from 'bun:test'
import { InvalidCursorError } from '../../../src/db/paging'
import { cursorSeal } from '../../../src/db/sealed-cursor'

const SECRET = 'a-signing-secret-of-at-least-32-bytes!!'

describe('cursorSeal', () => {
  test('opens what it sealed, also in another instance with the same secret (another process, a restart)', () => {
    const cursor = Buffer.from(JSON.stringify([-2.85, 1, 1234])).toString('base64url')
    const sealed = cursorSeal(SECRET, 'search').seal(cursor)
    expect(sealed).not.toContain(cursor)
    expect(cursorSeal(SECRET, 'search').open(sealed)).toBe(cursor)
  })

  test('refuses a cursor sealed with another secret or for another purpose, altered, cut or made up', () => {
    const seal = cursorSeal(SECRET, 'search')
    const sealed = seal.seal('cursor')
    const altered = Buffer.from(sealed, 'base64url')
    altered[20] ^= 0x40
    for (const bad of [
      cursorSeal(`${SECRET}x`, 'search').seal('cursor'),
      cursorSeal(SECRET, 'threads').seal('cursor'),
      altered.toString('base64url'),
      sealed.slice(0, 30),
      '',
      'zz',
      Buffer.from('[1,1,1]').toString('base64url'),
    ])
      expect(() => seal.open(bad)).toThrow(InvalidCursorError)
  })
})
