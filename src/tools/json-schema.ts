import type { TSchema } from '@sinclair/typebox'

/** Plain JSON schema for Ollama: TypeBox's symbols dropped, unions of literals as `enum`. */
export function toJsonSchema(schema: TSchema): unknown {
  const walk = (node: any): any => {
    if (Array.isArray(node)) return node.map(walk)
    if (!node || typeof node !== 'object') return node
    if (
      Array.isArray(node.anyOf) &&
      node.anyOf.length > 0 &&
      node.anyOf.every((s: any) => typeof s?.const === 'string')
    ) {
      const { anyOf, ...rest } = node
      return { ...walk(rest), type: 'string', enum: anyOf.map((s: any) => s.const) }
    }
    const out: Record<string, unknown> = {}
    for (const [key, value] of Object.entries(node)) out[key] = walk(value)
    return out
  }
  return walk(JSON.parse(JSON.stringify(schema)))
}
