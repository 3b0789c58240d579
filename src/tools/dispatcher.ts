import type { TSchema } from '@sinclair/typebox'
import { Value, type ValueError } from '@sinclair/typebox/value'
import { currentContext, type UserContext } from '../context/user-context'
import type { OllamaToolSpec, ToolDefinition, ToolDispatcher, ToolOutcome } from './types'

/** A tool failure with a code other than `tool_error`; its message goes to the model as is. */
export class ToolError extends Error {
  constructor(
    message: string,
    readonly code = 'tool_error',
  ) {
    super(message)
  }
}

export interface ToolDispatcherOptions {
  /** How long one call may run before it ends with `tool_timeout`. */
  timeoutMs: number
  /** Largest serialised result (bytes); bigger ones are cut (lists) or fail with `result_too_large`. */
  maxResultBytes?: number
}

export const DEFAULT_MAX_RESULT_BYTES = 64 * 1024
const MAX_ERROR_MESSAGE = 500

type Failure = { code: string; message: string }

/**
 * Validates and runs tool calls (PROTOCOL.md §4). Every call runs in a child of the active user
 * context (the run's), so repositories inside a tool act for the run's owner and nobody else.
 * Nothing here throws at the caller: every failure is an `ok: false` outcome the model can read.
 */
export function createToolDispatcher(tools: ToolDefinition[], opts: ToolDispatcherOptions): ToolDispatcher & { names(): string[] } {
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
      spec = { type: 'function', function: { name: tool.name, description: tool.description, parameters: toJsonSchema(tool.parameters) } }
      specCache.set(tool.name, spec)
    }
    return spec
  }

  async function call(name: string, rawArgs: unknown, callOpts: { signal: AbortSignal; allowed?: readonly string[]; toolCallId?: string }): Promise<ToolOutcome> {
    const started = performance.now()
    const fail = (error: Failure): ToolOutcome => ({ ok: false, error, durationMs: elapsed(started) })

    const tool = registry.get(name)
    if (!tool || (callOpts.allowed && !callOpts.allowed.includes(name))) {
      const available = [...registry.keys()].filter((n) => !callOpts.allowed || callOpts.allowed.includes(n))
      return fail({ code: 'unknown_tool', message: `there is no tool named "${clip(String(name), 100)}"${available.length ? `; available tools: ${available.join(', ')}` : ''}` })
    }

    const parsed = prepareArguments(tool, rawArgs)
    if ('error' in parsed) return fail(parsed.error)

    let parent: UserContext
    try {
      parent = currentContext()
    } catch {
      return fail({ code: 'tool_error', message: 'tool calls must run for a user (no user context is active)' })
    }
    if (callOpts.signal.aborted || parent.signal.aborted) return fail({ code: 'cancelled', message: 'the tool call was cancelled before it started' })

    const timeout = new AbortController()
    const timer = setTimeout(() => timeout.abort(new ToolError(`${name} took longer than ${opts.timeoutMs} ms`, 'tool_timeout')), opts.timeoutMs)
    const child = parent.child({ metadata: { tool: name }, signal: AbortSignal.any([callOpts.signal, timeout.signal]) })
    let onAbort: (() => void) | undefined
    try {
      // The tool may ignore its signal; the race still ends the call on time or on cancel.
      const stopped = new Promise<never>((_, reject) => {
        onAbort = () => reject(child.signal.reason)
        child.signal.addEventListener('abort', onAbort, { once: true })
      })
      stopped.catch(() => {})
      const running = child.run(async () => tool.execute(parsed.args, { signal: child.signal, context: child, toolCallId: callOpts.toolCallId }))
      running.catch(() => {})
      const result = await Promise.race([running, stopped])
      const fitted = fitResult(result, maxBytes)
      if ('error' in fitted) return fail(fitted.error)
      return { ok: true, result: fitted.value, durationMs: elapsed(started) }
    } catch (error) {
      if (timeout.signal.aborted) return fail({ code: 'tool_timeout', message: `${name} took longer than ${opts.timeoutMs} ms and was stopped` })
      if (callOpts.signal.aborted || parent.signal.aborted) return fail({ code: 'cancelled', message: `${name} was cancelled` })
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
const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text)

function errorOf(error: unknown): Failure {
  const code = error instanceof ToolError ? error.code : 'tool_error'
  const message = error instanceof Error ? error.message : typeof error === 'string' ? error : 'the tool failed'
  return { code, message: clip(message || 'the tool failed', MAX_ERROR_MESSAGE) }
}

/** Parses (a JSON string from some models), forgives, converts ("5" → 5) and validates. */
function prepareArguments(tool: ToolDefinition, raw: unknown): { args: any } | { error: Failure } {
  const invalid = (message: string) => ({ error: { code: 'invalid_arguments', message: clip(`${tool.name}: ${message}`, MAX_ERROR_MESSAGE) } })
  let value: unknown = raw
  if (typeof value === 'string') {
    if (value.trim() === '') value = {}
    else {
      try {
        value = JSON.parse(value, dropPrototypeKeys)
      } catch {
        return invalid('arguments are not valid JSON')
      }
    }
  }
  if (value === undefined || value === null) value = {}
  if (typeof value !== 'object' || Array.isArray(value)) return invalid('arguments must be a JSON object')
  let args: Record<string, unknown>
  try {
    // A JSON round trip drops anything that is not data (functions, symbols, getters, prototypes).
    args = JSON.parse(JSON.stringify(value), dropPrototypeKeys)
  } catch {
    return invalid('arguments must be plain JSON data')
  }
  const lossy = lossyInteger(tool.parameters, args, '')
  if (lossy !== undefined) return invalid(`${lossy || 'arguments'} must be a whole number`)
  // Models often send null for "not given".
  for (const key of Object.keys(args)) if (args[key] === null) delete args[key]
  try {
    if (tool.normalize) args = tool.normalize(args)
    args = Value.Clean(tool.parameters, args) as Record<string, unknown>
    args = Value.Default(tool.parameters, args) as Record<string, unknown>
    args = Value.Convert(tool.parameters, args) as Record<string, unknown>
  } catch {
    return invalid('arguments could not be read')
  }
  if (!Value.Check(tool.parameters, args)) return invalid(describeErrors(tool.parameters, args))
  return { args }
}

/** Keys that mean something to JavaScript objects are never argument names: they are dropped. */
function dropPrototypeKeys(key: string, value: unknown): unknown {
  return key === '__proto__' || key === 'constructor' || key === 'prototype' ? undefined : value
}

/**
 * The path of a fractional number given where the schema wants an integer. Conversion would
 * truncate it silently (1.5 → 1); it must be an error instead.
 */
function lossyInteger(schema: any, value: unknown, path: string): string | undefined {
  if (!schema || typeof schema !== 'object') return undefined
  if (schema.type === 'integer') {
    const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value
    return typeof n === 'number' && Number.isFinite(n) && !Number.isInteger(n) ? path : undefined
  }
  if (schema.type === 'object' && schema.properties && value && typeof value === 'object' && !Array.isArray(value)) {
    for (const [key, child] of Object.entries(value)) {
      if (!Object.hasOwn(schema.properties, key)) continue
      const found = lossyInteger(schema.properties[key], child, path ? `${path}.${key}` : key)
      if (found !== undefined) return found
    }
  }
  if (schema.type === 'array' && schema.items && Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = lossyInteger(schema.items, value[i], `${path}[${i}]`)
      if (found !== undefined) return found
    }
  }
  return undefined
}

function pathOf(path: string): string {
  return path
    .split('/')
    .filter(Boolean)
    .map((seg, i) => (/^\d+$/.test(seg) ? `[${seg}]` : i === 0 ? seg : `.${seg}`))
    .join('')
}

function friendly(error: ValueError): string {
  const schema = error.schema as any
  const consts = Array.isArray(schema.anyOf) && schema.anyOf.every((s: any) => 'const' in s) ? schema.anyOf.map((s: any) => JSON.stringify(s.const)) : undefined
  if (consts) return `must be one of ${consts.join(', ')}`
  const got = error.value === undefined ? 'nothing' : Array.isArray(error.value) ? 'a list' : typeof error.value
  switch (schema.type) {
    case 'string':
      if (typeof error.value === 'string') {
        if (schema.minLength !== undefined && error.value.length < schema.minLength) return schema.minLength === 1 ? 'must not be empty' : `must be at least ${schema.minLength} characters`
        if (schema.maxLength !== undefined && error.value.length > schema.maxLength) return `must be at most ${schema.maxLength} characters`
        return error.message
      }
      return error.value === undefined ? 'is required' : `must be a string, got ${got}`
    case 'number':
    case 'integer':
      if (typeof error.value === 'number') {
        if (schema.type === 'integer' && !Number.isInteger(error.value)) return 'must be a whole number'
        if (schema.minimum !== undefined && error.value < schema.minimum) return `must be at least ${schema.minimum}`
        if (schema.maximum !== undefined && error.value > schema.maximum) return `must be at most ${schema.maximum}`
        return error.message
      }
      return error.value === undefined ? 'is required' : `must be a number, got ${got}`
    case 'array':
      if (Array.isArray(error.value)) {
        if (schema.maxItems !== undefined && error.value.length > schema.maxItems) return `must have at most ${schema.maxItems} items`
        if (schema.minItems !== undefined && error.value.length < schema.minItems) return `must have at least ${schema.minItems} items`
        return error.message
      }
      return error.value === undefined ? 'is required' : `must be a list, got ${got}`
    case 'object':
      return error.value === undefined ? 'is required' : `must be an object, got ${got}`
    case 'boolean':
      return error.value === undefined ? 'is required' : `must be true or false, got ${got}`
  }
  return error.value === undefined ? 'is required' : error.message.replace(/^Expected/, 'expected')
}

function describeErrors(schema: TSchema, value: unknown): string {
  const parts: string[] = []
  const seen = new Set<string>()
  for (const error of Value.Errors(schema, value)) {
    const path = pathOf(error.path)
    if (seen.has(path)) continue
    seen.add(path)
    parts.push(`${path || 'arguments'} ${friendly(error)}`)
    if (parts.length === 3) break
  }
  return parts.join('; ') || 'arguments do not match the tool parameters'
}

/** Plain JSON schema for Ollama: TypeBox's symbols dropped, unions of literals as `enum`. */
export function toJsonSchema(schema: TSchema): unknown {
  const walk = (node: any): any => {
    if (Array.isArray(node)) return node.map(walk)
    if (!node || typeof node !== 'object') return node
    if (Array.isArray(node.anyOf) && node.anyOf.length > 0 && node.anyOf.every((s: any) => typeof s?.const === 'string')) {
      const { anyOf, ...rest } = node
      return { ...walk(rest), type: 'string', enum: anyOf.map((s: any) => s.const) }
    }
    const out: Record<string, unknown> = {}
    for (const [key, value] of Object.entries(node)) out[key] = walk(value)
    return out
  }
  return walk(JSON.parse(JSON.stringify(schema)))
}

/**
 * Makes the result plain JSON within `maxBytes`. A result too big is cut by shortening its
 * largest top-level list (marked `truncated: true` with a note); if that cannot help, it fails.
 */
function fitResult(result: unknown, maxBytes: number): { value: unknown } | { error: Failure } {
  let text: string | undefined
  try {
    text = JSON.stringify(result)
  } catch {
    return { error: { code: 'tool_error', message: 'the tool returned a result that is not JSON data' } }
  }
  if (text === undefined) return { value: null }
  if (Buffer.byteLength(text) <= maxBytes) return { value: JSON.parse(text) }

  const tooLarge = { error: { code: 'result_too_large', message: `the result is larger than ${Math.round(maxBytes / 1024)} KB; ask for fewer rows or columns` } }
  const plain = JSON.parse(text)
  if (!plain || typeof plain !== 'object' || Array.isArray(plain)) return tooLarge
  const lists = Object.entries(plain).filter(([, v]) => Array.isArray(v)) as [string, unknown[]][]
  if (lists.length === 0) return tooLarge
  const [key, list] = lists.reduce((a, b) => (JSON.stringify(b[1]).length > JSON.stringify(a[1]).length ? b : a))
  const build = (n: number) => ({ ...plain, [key]: list.slice(0, n), truncated: true, note: `only the first ${n} of ${list.length} ${key} are shown (result size limit)` })
  const fits = (n: number) => Buffer.byteLength(JSON.stringify(build(n))) <= maxBytes
  let lo = 0
  let hi = list.length - 1
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2)
    if (fits(mid)) lo = mid
    else hi = mid - 1
  }
  if (lo < 1 || !fits(lo)) return tooLarge
  return { value: build(lo) }
}
