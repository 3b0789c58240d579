/**
 * A JSON-RPC batch that cancels one of its own requests (`notifications/cancelled` naming an id
 * sent in the same body). MCP says a cancelled request gets no response, while a stateless server
 * answering with JSON waits for a response to every request of the body: such a batch would never
 * be answered. The cancel is honoured before anything runs: the request it names is left out, and
 * so is the notification (nothing is left to cancel).
 */
export function withoutSelfCancelled(body: unknown): unknown {
  if (!Array.isArray(body)) return body
  const cancelled = new Set<unknown>()
  for (const message of body)
    if (isCancel(message)) cancelled.add((message.params as { requestId?: unknown }).requestId)
  if (cancelled.size === 0) return body
  const ids = new Set(body.filter(isRequest).map((message) => message.id))
  const dropped = new Set([...cancelled].filter((id) => ids.has(id)))
  if (dropped.size === 0) return body
  return body.filter(
    (message) =>
      !(isRequest(message) && dropped.has(message.id)) &&
      !(isCancel(message) && dropped.has((message.params as { requestId?: unknown }).requestId)),
  )
}

type Message = { method?: unknown; id?: unknown; params?: unknown }

const isObject = (value: unknown): value is Message => typeof value === 'object' && value !== null

const isRequest = (value: unknown): value is Message & { id: unknown } =>
  isObject(value) && typeof value.method === 'string' && 'id' in value

const isCancel = (value: unknown): value is Message =>
  isObject(value) &&
  value.method === 'notifications/cancelled' &&
  !('id' in value) &&
  isObject(value.params) &&
  'requestId' in (value.params as object)

/**
 * The answer to a batch as JSON-RPC 2.0 wants it: an array, also when it holds one response (the
 * SDK answers a batch of one request with that response alone).
 */
export async function asBatchAnswer(answer: Response): Promise<Response> {
  if (answer.status !== 200 || !answer.headers.get('content-type')?.includes('application/json')) return answer
  const body: unknown = await answer.json()
  return new Response(JSON.stringify(Array.isArray(body) ? body : [body]), {
    status: answer.status,
    headers: answer.headers,
  })
}
