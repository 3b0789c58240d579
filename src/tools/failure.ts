/** How a tool call fails, as the model and the client see it: a code and a short message. */
export interface ToolFailure {
  code: string
  message: string
}

/** Longest failure message passed on (a tool's own error text can be anything). */
export const MAX_ERROR_MESSAGE = 500

export const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text)

/** A tool failure with a code other than `tool_error`; its message goes to the model as is. */
export class ToolError extends Error {
  constructor(
    message: string,
    readonly code = 'tool_error',
  ) {
    super(message)
  }
}

/** A thrown error as a failure: a ToolError keeps its code, anything else is `tool_error`. */
export function errorOf(error: unknown): ToolFailure {
  const code = error instanceof ToolError ? error.code : 'tool_error'
  const message = error instanceof Error ? error.message : typeof error === 'string' ? error : 'the tool failed'
  return { code, message: clip(message || 'the tool failed', MAX_ERROR_MESSAGE) }
}
