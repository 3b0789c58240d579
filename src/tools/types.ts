import type { TSchema, Static } from '@sinclair/typebox'
import type { UserContext } from '../context/user-context'

/** What a tool's `execute` gets besides its arguments. */
export interface ToolCallContext {
  /** Aborted on run cancel, run timeout or the tool's own timeout. */
  signal: AbortSignal
  /** The tool call's own child context (depth = run depth + 1); it is also the active one. */
  context: UserContext
  /**
   * The call's id (the `toolCallId` of its events). A call cut by a crash may run again with the
   * same id after the restart: tools that change data use it to do so only once.
   */
  toolCallId?: string
}

/**
 * A tool the model can call. `parameters` is a TypeBox schema: it is sent to Ollama as the
 * function's JSON-schema parameters and used to validate the model's arguments before running.
 */
export interface ToolDefinition<S extends TSchema = TSchema> {
  name: string
  description: string
  parameters: S
  execute(args: Static<S>, call: ToolCallContext): Promise<unknown>
  /**
   * Optional forgiveness for small models, applied to the parsed arguments object before
   * validation (e.g. wrapping a lone string into the list the schema asks for). It must not
   * widen what validation accepts.
   */
  normalize?(args: Record<string, unknown>): Record<string, unknown>
}

/** The result of one dispatched call; never thrown. */
export type ToolOutcome =
  | { ok: true; result: unknown; durationMs: number }
  | { ok: false; error: { code: string; message: string }; durationMs: number }

/** Ollama's `tools` entry. */
export interface OllamaToolSpec {
  type: 'function'
  function: { name: string; description: string; parameters: unknown }
}

export interface ToolDispatcher {
  /** Specs for these tool names, in Ollama's `tools` shape (unknown names are skipped). */
  specs(names: readonly string[]): OllamaToolSpec[]
  /**
   * Validates and runs one call inside a child of the active user context, with a timeout and
   * the given abort signal. Unknown tool, invalid arguments, a throw or a timeout all come back
   * as `ok: false` — the run goes on.
   */
  call(
    name: string,
    args: unknown,
    opts: { signal: AbortSignal; allowed?: readonly string[]; toolCallId?: string },
  ): Promise<ToolOutcome>
}
