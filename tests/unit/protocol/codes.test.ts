import { describe, expect, test } from 'bun:test'
import { Glob } from 'bun'
import path from 'node:path'
import { CLOSE_CODES, ERROR_CODES } from '../../../src/protocol'

const SRC = path.join(import.meta.dir, '../../../src')

/** Every .ts file under src/ except the protocol module itself, with its text. */
async function sources(): Promise<{ file: string; text: string }[]> {
  const out = []
  for (const file of new Glob('**/*.ts').scanSync(SRC)) {
    if (file.startsWith('protocol/')) continue
    out.push({ file, text: await Bun.file(path.join(SRC, file)).text() })
  }
  return out
}

/**
 * The places an error code is written as a literal: `code: 'x'`, an error class built with a
 * code (`new AppError(400, 'x'`, `new ConflictError('x'`, `super(401, 'x'`), and the helpers
 * that build error frames (`errorFrame('x'`, `bad('x'`). NotFoundError takes what was not
 * found, not a code; its code is `not_found`.
 */
const CODE_PATTERNS = [
  /\bcode:\s*'([a-z][a-z0-9_]*)'/g,
  /\bcode\s*===?\s*'([a-z][a-z0-9_]*)'/g,
  /new (?!NotFoundError)\w*Error\(\s*(?:\d+,\s*)?'([a-z][a-z0-9_]*)'/g,
  /\bsuper\(\s*\d+,\s*'([a-z][a-z0-9_]*)'/g,
  /\b(?:errorFrame|bad|errorResponse|errorBody)\(\s*(?:[\w.]+,\s*)?(?:\d+,\s*)?'([a-z][a-z0-9_]*)'/g,
]

/** The code column of docs/api.md's "Every error code" table. */
async function documentedCodes(): Promise<string[]> {
  const api = await Bun.file(path.join(import.meta.dir, '../../../docs/api.md')).text()
  const index = /<!-- error-code-index:start -->([\s\S]*?)<!-- error-code-index:end -->/.exec(api)?.[1] ?? ''
  return [...index.matchAll(/^\| `([a-z][a-z0-9_]*)` \|/gm)].map((m) => m[1])
}

describe('src/protocol codes', () => {
  test('docs/api.md lists every error code once, and no code the server does not have', async () => {
    const documented = await documentedCodes()
    expect(documented.length).toBeGreaterThan(0)
    expect(documented.filter((code, i) => documented.indexOf(code) !== i)).toEqual([])
    expect([...documented].sort()).toEqual([...new Set<string>(Object.values(ERROR_CODES))].sort())
  })

  test('every error code written in src/ is one of ERROR_CODES', async () => {
    const known = new Set<string>(Object.values(ERROR_CODES))
    const used = new Map<string, string>()
    for (const { file, text } of await sources()) {
      for (const pattern of CODE_PATTERNS)
        for (const m of text.matchAll(pattern)) if (!used.has(m[1])) used.set(m[1], file)
    }
    // The scan must find the codes we know are used, or it is scanning nothing.
    expect(used.has('quota_exceeded')).toBe(true)
    expect(used.has('invalid_json')).toBe(true)
    const unknown = [...used].filter(([code]) => !known.has(code)).map(([code, file]) => `${code} (${file})`)
    expect(unknown).toEqual([])
  })

  test('every close code the server or browser uses is one of CLOSE_CODES, and none is written bare', async () => {
    const known = new Set<number>(Object.values(CLOSE_CODES))
    const bare: string[] = []
    for (const { file, text } of await sources()) {
      for (const m of text.matchAll(/\.close\(\s*(\d{4})\b/g)) bare.push(`${m[1]} in ${file}`)
      for (const m of text.matchAll(/\bcode\s*===?\s*(\d{4})\b/g)) bare.push(`${m[1]} in ${file}`)
      for (const m of text.matchAll(/CLOSE_CODES\.(\w+)/g)) expect(m[1] in CLOSE_CODES).toBe(true)
    }
    expect(bare).toEqual([])
    expect(known.has(4401)).toBe(true)
    expect(new Set(Object.values(CLOSE_CODES)).size).toBe(Object.keys(CLOSE_CODES).length)
  })

  test('error codes are snake_case and listed once', () => {
    const values = Object.values(ERROR_CODES)
    for (const code of values) expect(code).toMatch(/^[a-z][a-z0-9_]*$/)
    expect(new Set(values).size).toBe(values.length)
  })
})
