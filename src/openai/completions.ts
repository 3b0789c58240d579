import type { Message } from 'ollama'
import { RunStop, type RunOutcome } from '../runs/outcome'
import type { UserContext } from '../context/user-context'
import { AppError } from '../http/errors'
import type { ModelOptions } from '../llm/provider'
import type { EventBus } from '../runs/bus'
import type { RunEvent } from '../protocol'
import type { RunManager } from '../runs/service'
import type { ApiKeysService } from '../auth/api-keys/service'
import { parseChatCompletionRequest, textOf, type ChatCompletionRequest } from './model'
import type { ModelCatalog } from './models'
import { RunEventStream } from './run-events'
import { runFailure, withRetryAfter, type StopReason } from './failures'
import {
  chunkObject,
  completionObject,
  sseData,
  sseError,
  SSE_DONE,
  SSE_KEEPALIVE,
  usageOf,
  type FinishReason,
} from './wire'

const KEEPALIVE_MS = 15_000

export interface CompletionDeps {
  runs: RunManager
  bus: Pick<EventBus, 'subscribe'>
  catalog: ModelCatalog
  keys: Pick<ApiKeysService, 'onRevoked'>
}

export interface CompletionCall {
  body: unknown
  /** The request's Content-Type: the body must be JSON. */
  contentType?: string
  /** X-Thread-Id: continue this thread instead of starting one. */
  threadId?: string
  apiUser: { keyId: string; userId: string; context: UserContext }
  /** Aborted when the client goes away. */
  signal: AbortSignal
}

function optionsOf(request: ChatCompletionRequest): ModelOptions | undefined {
  const maxTokens = request.max_completion_tokens ?? request.max_tokens ?? undefined
  const stop = typeof request.stop === 'string' ? [request.stop] : (request.stop ?? undefined)
  const options: ModelOptions = {
    ...(request.temperature != null && { temperature: request.temperature }),
    ...(request.top_p != null && { top_p: request.top_p }),
    ...(maxTokens != null && { num_predict: maxTokens }),
    ...(request.seed != null && { seed: request.seed }),
    ...(stop?.length && { stop }),
  }
  return Object.keys(options).length ? options : undefined
}

/**
 * POST /v1/chat/completions as a thin adapter over the RunManager: the call becomes a run of
 * the key's user (same isolation, quotas, fair queue, journal, and events on the user's own
 * WebSockets), and the run's published events become OpenAI's answer or SSE chunks. The HTTP
 * status is decided at the first answer text: a run that fails before it (model down, quota)
 * is a proper error status even when streaming.
 */
export async function chatCompletion(deps: CompletionDeps, call: CompletionCall): Promise<Response> {
  // curl -d without -H sends a form; say so instead of reporting its odd "fields".
  if (!call.contentType?.toLowerCase().startsWith('application/json'))
    throw new AppError(400, 'invalid_request', 'send the body as JSON with Content-Type: application/json')
  const request = parseChatCompletionRequest(call.body)
  const last = request.messages.at(-1)!
  if (last.role !== 'user')
    throw new AppError(400, 'invalid_request', 'messages: the last message must be from the user')
  const content = textOf(last)
  if (!content.trim()) throw new AppError(400, 'invalid_request', 'messages: the last user message is empty')
  const choice = await deps.catalog.resolve(request.model)
  const history: Message[] = request.messages
    .slice(0, -1)
    .map((m) => ({ role: m.role === 'developer' ? 'system' : m.role, content: textOf(m) }))
  const firstUser = request.messages.find((m) => m.role === 'user')!

  const events = new RunEventStream(deps.bus, call.apiUser.userId)
  let runId = ''
  let threadId = ''
  let outcome: Promise<RunOutcome>
  try {
    const started = await call.apiUser.context.run(() =>
      deps.runs.start(
        {
          content,
          threadId: call.threadId,
          agent: choice.agent,
          model: choice.model,
          history,
          title: textOf(firstUser),
          options: optionsOf(request),
          requestId: call.apiUser.context.requestId,
        },
        (accepted) => {
          runId = accepted.runId
          threadId = accepted.threadId
          events.follow(accepted.runId)
        },
      ),
    )
    outcome = started.outcome
  } catch (error) {
    events.close()
    throw withRetryAfter(error)
  }

  // The run stops when the client goes away or the key is revoked; either way it is cancelled.
  let stopped: StopReason | undefined
  const stop = (why: StopReason) => {
    if (stopped) return
    stopped = why
    deps.runs.abort(runId, new RunStop('cancelled'))
  }
  const onDisconnect = () => stop('disconnected')
  call.signal.addEventListener('abort', onDisconnect, { once: true })
  const offRevoked = deps.keys.onRevoked(call.apiUser.keyId, () => stop('revoked'))
  const release = () => {
    call.signal.removeEventListener('abort', onDisconnect)
    offRevoked()
    events.close()
  }

  const created = Math.floor(Date.now() / 1000)
  const headers = { 'x-thread-id': threadId, 'x-run-id': runId, 'cache-control': 'no-store' }
  // The outcome is settled before agent_completed is published, so this never waits.
  const finishReason = async (): Promise<FinishReason> =>
    (await outcome).finishReason === 'length' ? 'length' : 'stop'

  if (!request.stream) {
    try {
      let event: RunEvent | undefined
      while ((event = await events.next()) && event.type !== 'agent_completed') {}
      if (!event) throw new AppError(503, 'server_shutdown', 'the run ended without an answer')
      if (event.status !== 'completed') throw runFailure(event, stopped)
      const body = completionObject({
        runId,
        created,
        model: request.model,
        content: event.message.content,
        finishReason: await finishReason(),
        usage: usageOf(event.usage),
      })
      return new Response(JSON.stringify(body), { headers: { 'content-type': 'application/json', ...headers } })
    } finally {
      release()
    }
  }

  // Streaming: hold the headers until the first answer text (or the end), then pipe the rest.
  let first: RunEvent | undefined
  try {
    while ((first = await events.next()) && first.type !== 'message_delta' && first.type !== 'agent_completed') {}
    if (!first) throw new AppError(503, 'server_shutdown', 'the run ended without an answer')
    if (first.type === 'agent_completed' && first.status !== 'completed') throw runFailure(first, stopped)
  } catch (error) {
    release()
    throw error
  }

  const includeUsage = request.stream_options?.include_usage === true
  const chunk = (delta: { role?: 'assistant'; content?: string }, finishReason: FinishReason | null = null) =>
    sseData(
      chunkObject({ runId, created, model: request.model, delta, finishReason, ...(includeUsage && { usage: null }) }),
    )

  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      const send = (bytes: Uint8Array) => {
        try {
          controller.enqueue(bytes)
        } catch {} // the client is gone; the run is being cancelled
      }
      const keepalive = setInterval(() => send(SSE_KEEPALIVE), KEEPALIVE_MS)
      try {
        send(chunk({ role: 'assistant', content: '' }))
        let streamed = ''
        let event: RunEvent | undefined = first
        for (; event; event = await events.next()) {
          if (event.type === 'message_delta') {
            streamed += event.delta
            send(chunk({ content: event.delta }))
          }
          if (event.type !== 'agent_completed') continue
          if (event.status === 'completed') {
            // The stored answer may end with text that was never streamed (the step-limit note).
            const rest = event.message.content.startsWith(streamed) ? event.message.content.slice(streamed.length) : ''
            if (rest) send(chunk({ content: rest }))
            send(chunk({}, await finishReason()))
            if (includeUsage)
              send(
                sseData(
                  chunkObject({
                    runId,
                    created,
                    model: request.model,
                    delta: {},
                    usage: usageOf(event.usage),
                    noChoices: true,
                  }),
                ),
              )
            send(SSE_DONE)
          } else {
            const failure = runFailure(event, stopped)
            send(sseError(failure.status, failure.code, failure.message))
          }
          break
        }
      } finally {
        clearInterval(keepalive)
        release()
        try {
          controller.close()
        } catch {}
      }
    },
    cancel() {
      stop('disconnected')
      release()
    },
  })
  return new Response(body, {
    headers: { 'content-type': 'text/event-stream; charset=utf-8', connection: 'keep-alive', ...headers },
  })
}
