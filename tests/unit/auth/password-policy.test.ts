import { test, expect, describe } from 'bun:test'
import { assertStrongPassword, checkPassword } from '../../../src/auth/password-policy'
import { AppError } from '../../../src/http/errors'

describe('password policy', () => {
  test('common passwords are refused as common, whatever their length', () => {
    for (const password of ['password', '12345678', 'qwertyuiop', 'iloveyou', 'sunshine1', 'football']) {
      const verdict = checkPassword(password)
      expect({ password, ok: verdict.ok }).toEqual({ password, ok: false })
      if (!verdict.ok) expect(verdict.reason).toMatch(/too weak: .*(common|used)/i)
    }
  })

  test('guessable passwords (score below 3) are refused with a hint', () => {
    for (const password of ['Password1!', 'abcdefgh', 'aaaaaaaaaa', 'long enough', '20242024']) {
      const verdict = checkPassword(password)
      expect({ password, ok: verdict.ok }).toEqual({ password, ok: false })
      if (!verdict.ok) {
        expect(verdict.score).toBeLessThan(3)
        expect(verdict.reason.length).toBeGreaterThan(20)
      }
    }
  })

  test("the user's own email and name count as guessable", () => {
    expect(checkPassword('margaret.hamilton', []).ok).toBe(true)
    expect(checkPassword('margaret.hamilton', ['margaret.hamilton@example.test', 'Margaret Hamilton']).ok).toBe(false)
  })

  test('passphrases and random passwords pass', () => {
    for (const password of [
      'correct horse battery',
      'quiet orbit lantern',
      `pw-${crypto.randomUUID()}`,
      'Tr0ub4dor&3x',
    ]) {
      expect({ password, verdict: checkPassword(password) }).toEqual({
        password,
        verdict: { ok: true, score: expect.any(Number) },
      })
    }
  })

  test('length bounds come first; a very long password is rated on its start only', () => {
    expect(checkPassword('Xq7#p2')).toEqual({ ok: false, score: 0, reason: 'the password needs at least 8 characters' })
    expect(checkPassword('x'.repeat(257)).ok).toBe(false)
    expect(checkPassword(`pw-${crypto.randomUUID()}${'a'.repeat(200)}`).ok).toBe(true)
  })

  test('assertStrongPassword throws 400 weak_password', () => {
    let thrown: unknown
    try {
      assertStrongPassword('password')
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(AppError)
    expect({ status: (thrown as AppError).status, code: (thrown as AppError).code }).toEqual({
      status: 400,
      code: 'weak_password',
    })
    expect(() => assertStrongPassword('correct horse battery')).not.toThrow()
  })
})
