import type { TSchema } from '@sinclair/typebox'
import { Value, type ValueError } from '@sinclair/typebox/value'
import type { ToolDefinition } from './types'
import { MAX_ERROR_MESSAGE, clip, type ToolFailure } from './failure'

/** Parses (a JSON string from some models), forgives, converts ("5" → 5) and validates. */
export function prepareArguments(tool: ToolDefinition, raw: unknown): { args: any } | { error: ToolFailure } {
  const invalid = (message: string) => ({
    error: { code: 'invalid_arguments', message: clip(`${tool.name}: ${message}`, MAX_ERROR_MESSAGE) },
  })
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
  if (nestedDeeperThan(value, MAX_ARGUMENT_DEPTH))
    return invalid(`arguments may nest objects and lists at most ${MAX_ARGUMENT_DEPTH} deep`)
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

/** No tool's arguments nest deeper; a deeper value is refused before anything walks it recursively. */
export const MAX_ARGUMENT_DEPTH = 32

/**
 * Whether `value` nests objects or lists deeper than `max`. Iterative, and it stops at the first
 * level too deep: a value nested a million levels (a 2 MB body) would cost a recursive walk
 * seconds of the server's thread, or its stack.
 */
function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]]
  while (stack.length > 0) {
    const [item, depth] = stack.pop()!
    if (typeof item !== 'object' || item === null) continue
    if (depth >= max) return true
    for (const child of Object.values(item)) stack.push([child, depth + 1])
  }
  return false
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
  const consts =
    Array.isArray(schema.anyOf) && schema.anyOf.every((s: any) => 'const' in s)
      ? schema.anyOf.map((s: any) => JSON.stringify(s.const))
      : undefined
  if (consts) return `must be one of ${consts.join(', ')}`
  const got = error.value === undefined ? 'nothing' : Array.isArray(error.value) ? 'a list' : typeof error.value
  switch (schema.type) {
    case 'string':
      if (typeof error.value === 'string') {
        if (schema.minLength !== undefined && error.value.length < schema.minLength)
          return schema.minLength === 1 ? 'must not be empty' : `must be at least ${schema.minLength} characters`
        if (schema.maxLength !== undefined && error.value.length > schema.maxLength)
          return `must be at most ${schema.maxLength} characters`
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
        if (schema.maxItems !== undefined && error.value.length > schema.maxItems)
          return `must have at most ${schema.maxItems} items`
        if (schema.minItems !== undefined && error.value.length < schema.minItems)
          return `must have at least ${schema.minItems} items`
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
