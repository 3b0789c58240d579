import { AppError } from '../http/errors'
import type { RunEvent } from '../protocol'

/** Why the adapter stopped a run itself. */
export type StopReason = 'disconnected' | 'revoked'

type Completed = Extract<RunEvent, { type: 'agent_completed' }>

/** The HTTP status of a run that did not complete (PROTOCOL.md §7: 503 model down, 429 busy…). */
export function runFailure(event: Completed, stopped: StopReason | undefined): AppError {
  if (stopped === 'revoked')
    return new AppError(
      401,
      'api_key_revoked',
      'the API key was revoked while this request was running; the run was cancelled',
    )
  const code = event.error?.code ?? 'internal_error'
  const message = event.error?.message ?? 'the run did not complete'
  switch (code) {
    case 'llm_unavailable':
    case 'server_shutdown':
    case 'server_busy':
      return new AppError(503, code, message)
    case 'model_not_found':
      return new AppError(404, code, message)
    case 'too_many_runs':
      return new AppError(429, code, message, { 'Retry-After': '1' })
    case 'quota_exceeded': {
      // A quota refusal is expected at run start (a thrown 429); this covers one decided later.
      const seconds = Number((event.error as { retryAfter?: unknown } | undefined)?.retryAfter)
      return new AppError(429, code, message, {
        'Retry-After': String(Number.isFinite(seconds) && seconds > 0 ? Math.ceil(seconds) : 60),
      })
    }
    case 'timeout':
      return new AppError(504, code, message)
    case 'llm_error':
      return new AppError(502, code, message)
    default:
      return new AppError(500, code, message)
  }
}

/**
 * Every 429 carries Retry-After (OpenAI clients back off on it): a quota refusal's own
 * `retryAfter` seconds when it has them, else 1 s (`too_many_runs`: a run slot frees soon).
 */
export function withRetryAfter(error: unknown): unknown {
  if (error instanceof AppError && error.status === 429 && !error.headers['Retry-After']) {
    const seconds = Number((error as { retryAfter?: unknown }).retryAfter)
    return new AppError(429, error.code, error.message, {
      ...error.headers,
      'Retry-After': String(Number.isFinite(seconds) && seconds > 0 ? Math.ceil(seconds) : 1),
    })
  }
  return error
}
