import { maybeCurrentContext } from './context/user-context'

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent'

const levels: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 }
let threshold = levels.info

/** Field names whose values never reach a log line, whatever the level (at any depth). */
const secretKeys =
  /passw(or)?d|passphrase|^pass$|secret|token|authori[sz]ation|cookie|api[-_]?key|private[-_]?key|credential|code[-_]?verifier/i
/** Token counts (usage) are numbers, not secrets. */
const countKeys = /tokens$|token[-_]?count$/i
/**
 * What users typed or the model answered: shown only when the log level is debug; otherwise
 * replaced by its length, so info/warn/error lines carry no message bodies.
 */
const bodyKeys = /^(content|body|prompt|delta|input|text|messages|csv|args|arguments|thinking)$/i
/** Secrets that can hide inside free text (error messages, URLs). */
const secretPatterns: [RegExp, string][] = [
  [/\bBearer\s+[A-Za-z0-9._~+/-]+=*/gi, 'Bearer [redacted]'],
  [/\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g, '[redacted-jwt]'],
  [/(\/\/)[^/\s:@]+:[^/\s@]+@/g, '$1***:***@'],
  [/([?&](?:token|access_token|refresh_token|id_token|code|password|secret|api[-_]?key)=)[^&\s#"]+/gi, '$1[redacted]'],
]

const MAX_DEPTH = 6

function scrub(text: string): string {
  let out = text
  for (const [pattern, replacement] of secretPatterns) out = out.replace(pattern, replacement)
  return out
}

function describeBody(value: unknown): string {
  if (typeof value === 'string') return `[${value.length} chars]`
  if (Array.isArray(value)) return `[${value.length} items]`
  return '[omitted]'
}

/** A JSON-safe copy with secrets redacted and (below debug) bodies replaced by their size. */
function clean(value: unknown, depth: number, seen: WeakSet<object>): unknown {
  if (typeof value === 'string') return scrub(value)
  if (typeof value === 'bigint') return value.toString()
  if (typeof value === 'function' || typeof value === 'symbol') return undefined
  if (value === null || typeof value !== 'object') return value
  if (seen.has(value)) return '[circular]'
  if (depth >= MAX_DEPTH) return '[nested too deep]'
  seen.add(value)
  try {
    if (value instanceof Error) {
      return {
        name: value.name,
        message: scrub(value.message),
        ...(threshold <= levels.debug && value.stack && { stack: scrub(value.stack) }),
      }
    }
    if (value instanceof Date) return value.toISOString()
    if (Array.isArray(value)) return value.map((v) => clean(v, depth + 1, seen))
    if (value instanceof Map) return clean(Object.fromEntries(value), depth, seen)
    if (value instanceof Set) return clean([...value], depth, seen)
    return cleanFields(value as Record<string, unknown>, depth, seen)
  } finally {
    seen.delete(value)
  }
}

function cleanFields(fields: Record<string, unknown>, depth: number, seen: WeakSet<object>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(fields)) {
    if (secretKeys.test(key) && !(countKeys.test(key) && typeof value === 'number')) out[key] = '[redacted]'
    else if (bodyKeys.test(key) && threshold > levels.debug && value !== undefined && value !== null)
      out[key] = describeBody(value)
    else out[key] = clean(value, depth + 1, seen)
  }
  return out
}

/** Keys the logger owns; a field of the same name is kept under `field.<name>`. */
const reserved = new Set(['ts', 'level', 'msg', 'userId', 'requestId', 'runId', 'connectionId'])

function write(level: Exclude<LogLevel, 'silent'>, msg: string, fields: Record<string, unknown> = {}) {
  if (levels[level] < threshold) return
  try {
    const ctx = maybeCurrentContext()
    const line: Record<string, unknown> = {
      ts: new Date().toISOString(),
      level,
      msg: scrub(String(msg)),
      ...(ctx && { userId: ctx.userId, requestId: ctx.requestId, runId: ctx.runId, connectionId: ctx.connectionId }),
    }
    for (const [key, value] of Object.entries(cleanFields(fields ?? {}, 0, new WeakSet()))) {
      line[reserved.has(key) && key in line ? `field.${key}` : key] = value
    }
    process.stdout.write(JSON.stringify(line) + '\n')
  } catch {
    // Logging must never break the caller.
  }
}

/**
 * Structured JSON logs on stdout, one object per line: `ts`, `level`, `msg`, the ids of the
 * active user context (`userId`, `requestId`, `runId`, `connectionId`), then the fields.
 * Secret-named fields are redacted at any depth, bearer tokens, JWTs and URL credentials are
 * masked inside text, and message bodies appear only at debug level.
 */
export const log = {
  setLevel(level: LogLevel) {
    threshold = levels[level]
  },
  get level(): LogLevel {
    return (Object.entries(levels).find(([, n]) => n === threshold)?.[0] ?? 'info') as LogLevel
  },
  debug: (msg: string, fields?: Record<string, unknown>) => write('debug', msg, fields),
  info: (msg: string, fields?: Record<string, unknown>) => write('info', msg, fields),
  warn: (msg: string, fields?: Record<string, unknown>) => write('warn', msg, fields),
  error: (msg: string, fields?: Record<string, unknown>) => write('error', msg, fields),
}
