import type { Message, Tool } from 'ollama'
import type { UserContext } from '../context/user-context'
import type { ToolDispatcher } from '../tools/types'
import type { LlmProvider, ModelOptions, ToolCallRequest } from '../llm/provider'
import { LlmError } from '../llm/errors'
import type { EventError, RunEventBody, RunStatusFinal } from '../protocol'
import { agentToolSpecs, getAgent, handoffReason, handoffTarget } from './definitions'
import type { OpenToolCall, RunState } from './replay'
import { CITED_TOOL, CitationLedger, resolveCitations, type CheckCitations } from './citations'
import type { Citation } from '../db/schema'

/**
 * Where the agent loop's events go: the run's journal (src/runs/journal.ts) is one. The loop
 * emits; it neither knows nor cares how events are numbered, stored or delivered.
 */
export interface RunEventSink {
  append(event: RunEventBody): unknown
  /** Resolves once everything appended so far is stored. */
  durable(): Promise<void>
  /** The agent answering from now on (set after a handoff; later events carry it). */
  agent: string
}

/**
 * How the loop ended. A run stopped from outside (its signal aborted) ends `cancelled` here;
 * the run manager says why (src/runs/outcome.ts).
 */
export interface AgentOutcome {
  status: RunStatusFinal
  content: string
  /** The agent answering at the end (after any handoff). */
  agent: string
  error?: { code: string; message: string }
  usage: { promptTokens: number; completionTokens: number; steps: number }
  /** Why the last model answer ended: `length` when the caller's token limit cut it. */
  finishReason?: 'stop' | 'length'
  /** Checked citations of the answer; present when the run retrieved document passages. */
  citations?: Citation[]
}

export interface AgentRunInput {
  journal: RunEventSink
  context: UserContext
  model: string
  agent: string
  /** Earlier messages of the thread, oldest first, then the new user message. */
  conversation: Message[]
  /**
   * A run continued after its process died (src/agents/replay.ts): it goes on from this state,
   * announced by `agent_thinking {status:"resumed"}` instead of a second `agent_started`.
   */
  resume?: RunState
  /** Sampling options for every model call of the run. */
  options?: ModelOptions
}

export interface RunnerDeps {
  llm: LlmProvider
  tools: ToolDispatcher
  maxSteps: number
  /** Milliseconds answer text is gathered into one `message_delta` (0 = one event per chunk). */
  deltaIntervalMs?: number
  /** Confirms cited passages for the run's user; without it every citation marker is removed. */
  checkCitations?: CheckCitations
}

/**
 * Gathers streamed text into fewer events: the first piece goes out at once (first-token
 * latency), later pieces within `intervalMs` of the last event are sent together.
 */
class TextCoalescer {
  #text = ''
  #timer: ReturnType<typeof setTimeout> | undefined
  #last = 0

  constructor(
    private readonly intervalMs: number,
    private readonly emit: (text: string) => void,
  ) {}

  push(text: string) {
    this.#text += text
    if (this.#timer) return
    const wait = this.#last + this.intervalMs - performance.now()
    if (wait <= 0) this.flush()
    else this.#timer = setTimeout(() => this.flush(), wait)
  }

  flush() {
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = undefined
    if (!this.#text) return
    const text = this.#text
    this.#text = ''
    this.#last = performance.now()
    this.emit(text)
  }
}

const toolCallId = () => `call_${crypto.randomUUID().replaceAll('-', '').slice(0, 16)}`

function errorOf(error: unknown, signal: AbortSignal): { status: RunStatusFinal; error: EventError } {
  // Stopped from outside: the run manager knows why and refines this.
  if (signal.aborted) return { status: 'cancelled', error: { code: 'cancelled', message: 'the run was stopped' } }
  if (error instanceof LlmError) return { status: 'failed', error: { code: error.code, message: error.message } }
  return { status: 'failed', error: { code: 'internal_error', message: 'the run failed unexpectedly' } }
}

/**
 * The step loop: model → tools → model … → answer, with the triage handoff. Emits the run's
 * events through its journal; never throws (failures become the outcome). `agent_completed`
 * is NOT emitted here: the run manager emits it in its `finally`, after storing the answer.
 */
export async function runAgent(input: AgentRunInput, deps: RunnerDeps): Promise<AgentOutcome> {
  const ledger = new CitationLedger()
  for (const result of input.resume?.citedResults ?? []) ledger.restore(result)
  const outcome = await stepLoop(input, deps, ledger)
  return withCitations(outcome, ledger, deps.checkCitations)
}

/**
 * The answer as stored and completed: markers of passages this run did not retrieve (or that
 * no longer check out for the user) removed, the kept ones listed as citations.
 */
async function withCitations(
  outcome: AgentOutcome,
  ledger: CitationLedger,
  check: CheckCitations | undefined,
): Promise<AgentOutcome> {
  if (!outcome.content) return ledger.searched ? { ...outcome, citations: [] } : outcome
  try {
    const { content, citations } = await resolveCitations(outcome.content, ledger, check ?? (async () => []))
    return { ...outcome, content, ...((ledger.searched || citations.length > 0) && { citations }) }
  } catch {
    return outcome
  }
}

async function stepLoop(input: AgentRunInput, deps: RunnerDeps, ledger: CitationLedger): Promise<AgentOutcome> {
  const { journal, context, model, resume } = input
  const signal = context.signal
  let agent = getAgent(resume?.agent ?? input.agent)!
  const messages: Message[] = resume
    ? [...resume.messages]
    : [{ role: 'system', content: agent.systemPrompt }, ...input.conversation]
  const usage = { promptTokens: 0, completionTokens: 0, steps: resume?.steps ?? 0 }
  let answer = resume?.answer ?? ''
  /** Text of the step being streamed (starting with a resumed step's prefill); kept when a failure cuts the step short. */
  let stepText = ''
  /** A model step cut by a crash: asked again with its streamed text as the start of the answer. */
  let prefill = resume?.prefill
  let openCall: { id: string; tool: string; started: number } | undefined

  const deltas = new TextCoalescer(deps.deltaIntervalMs ?? 15, (delta) =>
    journal.append({ type: 'message_delta', delta }),
  )
  const thoughts = new TextCoalescer(deps.deltaIntervalMs ?? 15, (text) =>
    journal.append({ type: 'agent_thinking', text }),
  )

  // The scheduler reports every move in the queue; a client needs the first report and then
  // at most one a second (each report is a stored, delivered event).
  let lastQueueReport = -Infinity
  const queueStatus = (position: number) => {
    const now = performance.now()
    if (now - lastQueueReport < 1000) return
    lastQueueReport = now
    journal.append({ type: 'agent_thinking', status: `queued: ${position} ahead of you for the model` })
  }

  /** Runs one tool call; `announced` calls (resumed after a crash) already have their tool_executing. */
  const execute = async (call: OpenToolCall, announced: boolean) => {
    signal.throwIfAborted()
    if (!announced) {
      journal.append({ type: 'tool_executing', toolCallId: call.id, tool: call.name, args: call.args ?? {} })
      // On disk before the tool acts: a crash after a note is saved must find the call (and its
      // id) in the journal, so the resumed run repeats that call instead of asking the model anew.
      await journal.durable()
    }
    openCall = { id: call.id, tool: call.name, started: performance.now() }
    const outcome = await deps.tools.call(call.name, call.args ?? {}, {
      signal,
      allowed: agent.tools,
      toolCallId: call.id,
    })
    // Retrieved passages get their run-wide numbers before the model (or anyone) sees them.
    const result =
      outcome.ok && call.name === CITED_TOOL ? ledger.number(outcome.result) : outcome.ok ? outcome.result : undefined
    journal.append(
      outcome.ok
        ? {
            type: 'tool_completed',
            toolCallId: call.id,
            tool: call.name,
            ok: true,
            result,
            durationMs: outcome.durationMs,
          }
        : {
            type: 'tool_completed',
            toolCallId: call.id,
            tool: call.name,
            ok: false,
            error: outcome.error,
            durationMs: outcome.durationMs,
          },
    )
    openCall = undefined
    messages.push({
      role: 'tool',
      tool_name: call.name,
      content: JSON.stringify(outcome.ok ? result : { error: outcome.error }),
    } as Message)
  }

  try {
    if (resume) journal.append({ type: 'agent_thinking', status: 'resumed' })
    else journal.append({ type: 'agent_started', input: input.conversation.at(-1)?.content ?? '' })
    const think = await deps.llm.supportsThinking(model).catch(() => false)

    // A call cut between tool_executing and tool_completed runs again under its id (tools that
    // change data are idempotent by it), then the run goes on as if it had never stopped.
    for (const call of resume?.openCalls ?? []) await execute(call, true)

    while (prefill !== undefined || usage.steps < deps.maxSteps) {
      signal.throwIfAborted()
      if (prefill === undefined) {
        usage.steps++
        journal.append({ type: 'agent_thinking', status: usage.steps === 1 ? 'thinking' : 'reading tool results' })
      }
      // Ollama continues a final assistant message: the model picks up mid-sentence.
      const asked = prefill ? [...messages, { role: 'assistant', content: prefill }] : messages
      stepText = prefill ?? ''
      prefill = undefined

      const tools = agentToolSpecs(agent, deps.tools) as Tool[]
      let thinking = ''
      let doneReason: string | undefined
      const calls: ToolCallRequest[] = []
      for await (const chunk of deps.llm.chat({
        model,
        messages: asked,
        tools,
        think: think || undefined,
        ...(input.options && { options: input.options }),
        signal,
        userId: context.userId,
        onQueued: (position) => queueStatus(position),
      })) {
        if (chunk.thinking) {
          thinking += chunk.thinking
          thoughts.push(chunk.thinking)
        }
        if (chunk.content) {
          thoughts.flush()
          stepText += chunk.content
          deltas.push(chunk.content)
        }
        if (chunk.toolCalls) calls.push(...chunk.toolCalls)
        if (chunk.doneReason) doneReason = chunk.doneReason
        if (chunk.usage) {
          usage.promptTokens += chunk.usage.promptTokens
          usage.completionTokens += chunk.usage.completionTokens
        }
      }
      thoughts.flush()
      deltas.flush()
      const text = stepText
      answer += text
      stepText = ''

      if (calls.length === 0)
        return {
          status: 'completed',
          content: answer,
          agent: agent.id,
          usage,
          finishReason: doneReason === 'length' ? 'length' : 'stop',
        }

      // The same message src/agents/replay.ts rebuilds from the journal after a crash.
      messages.push({
        role: 'assistant',
        content: text,
        ...(thinking && { thinking }),
        tool_calls: calls.map((c) => ({
          function: { name: c.name, arguments: (c.arguments ?? {}) as Record<string, unknown> },
        })),
      })

      const handoff = calls.map((c) => ({ call: c, to: handoffTarget(c.name, agent.id) })).find((h) => h.to)
      if (handoff?.to) {
        const next = getAgent(handoff.to)!
        journal.append({ type: 'agent_handoff', from: agent.id, to: next.id })
        journal.agent = next.id
        const reason = handoffReason(handoff.call.arguments) ?? ''
        messages[0] = { role: 'system', content: next.systemPrompt }
        messages.push({
          role: 'tool',
          tool_name: handoff.call.name,
          content: JSON.stringify({ transferred_to: next.id, reason }),
        } as Message)
        agent = next
        continue
      }

      for (const call of calls) await execute({ id: toolCallId(), name: call.name, args: call.arguments ?? {} }, false)
    }
    // Out of steps: finish with what the run has rather than calling the model forever.
    const note = `I stopped after ${deps.maxSteps} steps without reaching a final answer.`
    return { status: 'completed', content: answer ? `${answer}\n\n${note}` : note, agent: agent.id, usage }
  } catch (error) {
    deltas.flush()
    thoughts.flush()
    // A tool call cut short still gets its tool_completed, so every tool_executing is answered.
    if (openCall) {
      const durationMs = Math.round(performance.now() - openCall.started)
      journal.append({
        type: 'tool_completed',
        toolCallId: openCall.id,
        tool: openCall.tool,
        ok: false,
        error: { code: 'aborted', message: 'the run stopped during this call' },
        durationMs,
      })
    }
    return { ...errorOf(error, signal), content: answer + stepText, agent: agent.id, usage }
  }
}
