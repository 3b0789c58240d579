import { ZxcvbnFactory } from '@zxcvbn-ts/core'
import * as zxcvbnCommon from '@zxcvbn-ts/language-common'
import * as zxcvbnEn from '@zxcvbn-ts/language-en'
import { AppError } from '../http/errors'

/**
 * The one password rule (PROTOCOL.md §5): at least 8 characters, and not guessable — a zxcvbn
 * score of 3 or more and not a common password. Registration, password change and reset, admin
 * account creation and the `bun run admin` CLI all call `checkPassword`/`assertStrongPassword`.
 */

export const MIN_PASSWORD_LENGTH = 8
export const MAX_PASSWORD_LENGTH = 256
export const MIN_SCORE = 3
/**
 * zxcvbn's matching grows with length (~50–150 ms for long random strings here); only this many
 * leading characters are rated (a password whose first 64 are strong is strong), so a
 * 256-character one costs no more. Registration is rate-limited per address before rating.
 */
const RATED_CHARS = 64

let factory: ZxcvbnFactory | undefined
// Built on first use: the dictionaries take ~50 ms to load, a cost only sign-ups pay.
function zxcvbn(): ZxcvbnFactory {
  factory ??= new ZxcvbnFactory({
    dictionary: { ...zxcvbnCommon.dictionary, ...zxcvbnEn.dictionary },
    graphs: zxcvbnCommon.adjacencyGraphs,
    translations: zxcvbnEn.translations,
  })
  return factory
}

export type PasswordVerdict = { ok: true; score: number } | { ok: false; score: number; reason: string }

/** Rates a password; `userInputs` (email, name) count as guessable words. */
export function checkPassword(password: string, userInputs: string[] = []): PasswordVerdict {
  if (password.length < MIN_PASSWORD_LENGTH)
    return { ok: false, score: 0, reason: `the password needs at least ${MIN_PASSWORD_LENGTH} characters` }
  if (password.length > MAX_PASSWORD_LENGTH)
    return { ok: false, score: 0, reason: `the password may have at most ${MAX_PASSWORD_LENGTH} characters` }
  // The whole value, an email's local part, and each word of it.
  const inputs = userInputs
    .flatMap((v) => [v, v.split('@')[0], ...v.toLowerCase().split(/[^a-z0-9]+/)])
    .filter((v) => v.length >= 3)
  const result = zxcvbn().check(password.slice(0, RATED_CHARS), inputs)
  // One dictionary match spanning the whole password from the common-password list.
  const common =
    result.sequence.length === 1 &&
    result.sequence[0].pattern === 'dictionary' &&
    /^passwords/.test(String((result.sequence[0] as { dictionaryName?: string }).dictionaryName))
  if (result.score >= MIN_SCORE && !common) return { ok: true, score: result.score }
  const why = common
    ? 'it is a commonly used password'
    : (result.feedback.warning?.replace(/\.$/, '') ?? 'it is too easy to guess')
  const hint = result.feedback.suggestions[0] ?? 'Use a few uncommon words, or a longer password.'
  return { ok: false, score: result.score, reason: `this password is too weak: ${lowerFirst(why)}. ${hint}` }
}

/** Throws 400 `weak_password` with the reason when the password is refused. */
export function assertStrongPassword(password: string, userInputs: string[] = []): void {
  const verdict = checkPassword(password, userInputs)
  if (!verdict.ok) throw new AppError(400, 'weak_password', verdict.reason)
}

const lowerFirst = (s: string) => s.charAt(0).toLowerCase() + s.slice(1)
