import { currentContext, type UserContext } from '../context/user-context'
import type { OllamaToolSpec, ToolDefinition, ToolDispatcher, ToolOutcome } from './types'
import { prepareArguments } from './arguments'
import { ToolError, clip, errorOf, type ToolFailure } from './failure'
import { fitResult } from './fit-result'
import { toJsonSchema } from './json-schema'

// Argument checks (./arguments.ts), result fitting (./fit-result.ts) and failures (./failure.ts)
// have files of their own; this one calls. Re-exported for older imports.
export { ToolError } from './failure'
export { toJsonSchema } from './json-schema'

export interface ToolDispatcherOptions {
  /** How long one call may run before it ends with `tool_timeout`. */
  timeoutMs: number
  /** Largest serialised result (bytes); bigger ones are cut (lists) or fail with `result_too_large`. */
  maxResultBytes?: number
}

export const DEFAULT_MAX_RESULT_BYTES = 64 * 1024

/**
 * Validates and runs tool calls (PROTOCOL.md §4). Every call runs in a child of the active user
 * context (the run's), so repositories inside a tool act for the run's owner and nobody else.
 * Nothing here throws at the caller: every failure is an `ok: false` outcome the model can read.
 */
export function createToolDispatcher(
  tools: ToolDefinition[],
  opts: ToolDispatcherOptions,
): ToolDispatcher & { names(): string[] } {
  const registry = new Map<string, ToolDefinition>()
  for (const tool of tools) {
    if (registry.has(tool.name)) throw new Error(`tool ${tool.name} is defined twice`)
    registry.set(tool.name, tool)
  }
  const specCache = new Map<string, OllamaToolSpec>()
  const maxBytes = opts.maxResultBytes ?? DEFAULT_MAX_RESULT_BYTES

  function specOf(tool: ToolDefinition): OllamaToolSpec {
    let spec = specCache.get(tool.name)
    if (!spec) {
      spec = {
        type: 'function',
        function: { name: tool.name, description: tool.description, parameters: toJsonSchema(tool.parameters) },
      }
      specCache.set(tool.name, spec)
    }
    return spec
  }

  async function call(
    name: string,
    rawArgs: unknown,
    callOpts: { signal: AbortSignal; allowed?: readonly string[]; toolCallId?: string },
  ): Promise<ToolOutcome> {
    const started = performance.now()
    const fail = (error: ToolFailure): ToolOutcome => ({ ok: false, error, durationMs: elapsed(started) })

    const tool = registry.get(name)
    if (!tool || (callOpts.allowed && !callOpts.allowed.includes(name))) {
      const available = [...registry.keys()].filter((n) => !callOpts.allowed || callOpts.allowed.includes(n))
      return fail({
        code: 'unknown_tool',
        message: `there is no tool named "${clip(String(name), 100)}"${available.length ? `; available tools: ${available.join(', ')}` : ''}`,
      })
    }

    const parsed = prepareArguments(tool, rawArgs)
    if ('error' in parsed) return fail(parsed.error)

    let parent: UserContext
    try {
      parent = currentContext()
    } catch {
      return fail({ code: 'tool_error', message: 'tool calls must run for a user (no user context is active)' })
    }
    if (callOpts.signal.aborted || parent.signal.aborted)
      return fail({ code: 'cancelled', message: 'the tool call was cancelled before it started' })

    const timeout = new AbortController()
    const timer = setTimeout(
      () => timeout.abort(new ToolError(`${name} took longer than ${opts.timeoutMs} ms`, 'tool_timeout')),
      opts.timeoutMs,
    )
    const child = parent.child({ metadata: { tool: name }, signal: AbortSignal.any([callOpts.signal, timeout.signal]) })
    let onAbort: (() => void) | undefined
    try {
      // The tool may ignore its signal; the race still ends the call on time or on cancel.
      const stopped = new Promise<never>((_, reject) => {
        onAbort = () => reject(child.signal.reason)
        child.signal.addEventListener('abort', onAbort, { once: true })
      })
      stopped.catch(() => {})
      const running = child.run(async () =>
        tool.execute(parsed.args, { signal: child.signal, context: child, toolCallId: callOpts.toolCallId }),
      )
      running.catch(() => {})
      const result = await Promise.race([running, stopped])
      const fitted = fitResult(result, maxBytes)
      if ('error' in fitted) return fail(fitted.error)
      return { ok: true, result: fitted.value, durationMs: elapsed(started) }
    } catch (error) {
      if (timeout.signal.aborted)
        return fail({ code: 'tool_timeout', message: `${name} took longer than ${opts.timeoutMs} ms and was stopped` })
      if (callOpts.signal.aborted || parent.signal.aborted)
        return fail({ code: 'cancelled', message: `${name} was cancelled` })
      return fail(errorOf(error))
    } finally {
      clearTimeout(timer)
      if (onAbort) child.signal.removeEventListener('abort', onAbort)
      await child.dispose().catch(() => {})
    }
  }

  return {
    specs: (names) => names.flatMap((n) => (registry.has(n) ? [specOf(registry.get(n)!)] : [])),
    call,
    names: () => [...registry.keys()],
  }
}

const elapsed = (started: number) => Math.max(0, Math.round(performance.now() - started))
