/** What can go wrong with a model call, as our error codes: shared by the provider, its breaker and its fair queue. */

/**
 * `too_many_runs`: the user has too many requests waiting for the model (fair queue, per user).
 * `server_busy`: the fair queue is full for everyone.
 */
export type LlmErrorCode = 'llm_unavailable' | 'llm_error' | 'model_not_found' | 'too_many_runs' | 'server_busy'

export class LlmError extends Error {
  constructor(
    readonly code: LlmErrorCode,
    message: string,
    readonly status?: number,
  ) {
    super(message)
  }
}

export function unavailableMessage(host: string, model: string) {
  return `Ollama is not reachable at ${host}. Start it with \`ollama serve\`, make sure the model is pulled (\`ollama pull ${model}\`), or point OLLAMA_HOST at a running Ollama.`
}

const isAbort = (error: unknown) =>
  error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError')

/**
 * Maps what the ollama client throws onto our error codes. `answered`: the response headers had
 * arrived, so a failure now is about this answer (mid-stream), not a host that is down. Aborts
 * of the run itself are handled by the caller; an abort or time-out here is the transport's.
 */
export function mapOllamaError(error: unknown, host: string, model: string, answered: boolean): Error {
  if (error instanceof LlmError) return error
  const e = error as { name?: string; status_code?: number; message?: string }
  if (e?.name === 'ResponseError' && typeof e.status_code === 'number') {
    if (e.status_code === 404 && /model/i.test(e.message ?? '')) {
      return new LlmError(
        'model_not_found',
        `The model "${model}" is not available on ${host}. Pull it with \`ollama pull ${model}\`.`,
        404,
      )
    }
    if (e.status_code === 503 || e.status_code === 502 || e.status_code === 504) {
      return new LlmError(
        'llm_unavailable',
        `Ollama at ${host} is busy or unavailable (${e.status_code}): ${e.message}`,
        e.status_code,
      )
    }
    return new LlmError('llm_error', `Ollama answered ${e.status_code}: ${e.message}`, e.status_code)
  }
  if (answered) return new LlmError('llm_error', `The model failed while answering: ${e?.message ?? String(error)}`)
  if (isAbort(error))
    return new LlmError(
      'llm_unavailable',
      `Ollama at ${host} did not answer in time. Check that \`ollama serve\` is running and not stuck, or point OLLAMA_HOST at a running Ollama.`,
    )
  return new LlmError('llm_unavailable', unavailableMessage(host, model))
}
