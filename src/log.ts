import { maybeCurrentContext } from './context/user-context'
import type { LogLevel } from './config'

const levels: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 }
let threshold = levels.info

/** Field names whose values never reach a log line, whatever the level. */
const secretKeys = /pass(word)?|token|secret|authorization|cookie|api[-_]?key/i

function redact(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(fields)) {
    out[key] = secretKeys.test(key) ? '[redacted]' : value
  }
  return out
}

function write(level: Exclude<LogLevel, 'silent'>, msg: string, fields: Record<string, unknown> = {}) {
  if (levels[level] < threshold) return
  const ctx = maybeCurrentContext()
  const line = {
    ts: new Date().toISOString(),
    level,
    msg,
    ...(ctx && { userId: ctx.userId, requestId: ctx.requestId, runId: ctx.runId, connectionId: ctx.connectionId }),
    ...redact(fields),
  }
  process.stdout.write(JSON.stringify(line) + '\n')
}

/** Structured JSON logs on stdout; ids come from the active user context. */
export const log = {
  setLevel(level: LogLevel) {
    threshold = levels[level]
  },
  debug: (msg: string, fields?: Record<string, unknown>) => write('debug', msg, fields),
  info: (msg: string, fields?: Record<string, unknown>) => write('info', msg, fields),
  warn: (msg: string, fields?: Record<string, unknown>) => write('warn', msg, fields),
  error: (msg: string, fields?: Record<string, unknown>) => write('error', msg, fields),
}
