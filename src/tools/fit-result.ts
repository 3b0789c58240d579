import type { ToolFailure } from './failure'

/**
 * Makes the result plain JSON within `maxBytes`. A result too big is cut by shortening its
 * largest top-level list (marked `truncated: true` with a note); if that cannot help, it fails.
 */
export function fitResult(result: unknown, maxBytes: number): { value: unknown } | { error: ToolFailure } {
  let text: string | undefined
  try {
    text = JSON.stringify(result)
  } catch {
    return { error: { code: 'tool_error', message: 'the tool returned a result that is not JSON data' } }
  }
  if (text === undefined) return { value: null }
  if (Buffer.byteLength(text) <= maxBytes) return { value: JSON.parse(text) }

  const tooLarge = {
    error: {
      code: 'result_too_large',
      message: `the result is larger than ${Math.round(maxBytes / 1024)} KB; ask for fewer rows or columns`,
    },
  }
  const plain = JSON.parse(text)
  if (!plain || typeof plain !== 'object' || Array.isArray(plain)) return tooLarge
  const lists = Object.entries(plain).filter(([, v]) => Array.isArray(v)) as [string, unknown[]][]
  if (lists.length === 0) return tooLarge
  const [key, list] = lists.reduce((a, b) => (JSON.stringify(b[1]).length > JSON.stringify(a[1]).length ? b : a))
  const build = (n: number) => ({
    ...plain,
    [key]: list.slice(0, n),
    truncated: true,
    note: `only the first ${n} of ${list.length} ${key} are shown (result size limit)`,
  })
  const fits = (n: number) => Buffer.byteLength(JSON.stringify(build(n))) <= maxBytes
  let lo = 0
  let hi = list.length - 1
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2)
    if (fits(mid)) lo = mid
    else hi = mid - 1
  }
  if (lo < 1 || !fits(lo)) return tooLarge
  return { value: build(lo) }
}
