import type { TSchema } from '@sinclair/typebox'
import type { ToolDefinition } from '../types'

/** Keeps a tool's argument types while listing it beside tools of other schemas. */
export function defineTool<S extends TSchema>(tool: ToolDefinition<S>): ToolDefinition {
  return tool as unknown as ToolDefinition
}

/** Drops null members of a nested object (models send null for "not given"). */
export function withoutNulls(value: unknown): unknown {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return value
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null))
}
