/**
 * The scripted model the fuzzer talks to (a handler for src/testing/fake-ollama.ts).
 *
 * A fuzz chat message carries its sender's secret marker and optional directives:
 *   `#call <tool> <json arguments>`  call this tool (when the agent offers it), once, in order
 *   `#force <tool> <json arguments>` call it even when the agent does not offer it (an unknown tool)
 *   `#slow`                          stream the answer slowly (so a cancel can land mid-run)
 * Once the calls are made it answers `answer for <marker>: <the last tool result>`, so whatever a
 * tool returned also reaches the user's frames and the stored message.
 *
 * It is also a witness: every request must carry only the sender's marker. Another user's
 * marker anywhere in a prompt (conversation memory, a tool result) is recorded as a violation.
 */
import type { ChatHandler, ChatRequestRecord, ToolCallSpec } from '../fake-ollama'
import type { World } from './world'

const SECRET = /secret-(\d+)-[a-z0-9]+/g
const DIRECTIVE = /^#(call|force) (\S+) (\{.*\})\s*$/gm

type Msg = { role?: string; content?: unknown; tool_calls?: { function?: { name?: string } }[] }

const textOf = (value: unknown) => (typeof value === 'string' ? value : JSON.stringify(value ?? ''))

/** The directives of a chat message, in order. */
export function directives(text: string): { name: string; args: Record<string, unknown>; force: boolean }[] {
  const calls: { name: string; args: Record<string, unknown>; force: boolean }[] = []
  for (const m of text.matchAll(DIRECTIVE)) {
    try {
      calls.push({ name: m[2]!, args: JSON.parse(m[3]!), force: m[1] === 'force' })
    } catch {}
  }
  return calls
}

function witness(world: World, req: ChatRequestRecord, messages: Msg[], lastUser: number) {
  const owner = /secret-(\d+)-/.exec(textOf(messages[lastUser]?.content))?.[1]
  if (owner === undefined) return
  for (const [i, message] of messages.entries()) {
    for (const m of textOf(message.content).matchAll(SECRET)) {
      if (m[1] !== owner) {
        world.violations.push(
          `the model was sent user ${m[1]}'s marker "${m[0]}" in a request of user ${owner} (message ${i}, role ${message.role}, model ${req.model})`,
        )
      }
    }
  }
}

export function fuzzBrain(world: World): ChatHandler {
  return (req) => {
    const messages = req.messages as Msg[]
    let lastUser = -1
    for (let i = messages.length - 1; i >= 0; i--) if (messages[i]!.role === 'user') (lastUser = i), (i = -1)
    witness(world, req, messages, lastUser)
    const text = textOf(messages[lastUser]?.content)
    const slow = text.includes('#slow')
    const offered = new Set((req.tools ?? []).map((t: any) => t?.function?.name))
    const made = new Set<string>()
    let lastTool: Msg | undefined
    for (const message of messages.slice(lastUser + 1)) {
      for (const call of message.tool_calls ?? []) if (call.function?.name) made.add(call.function.name)
      if (message.role === 'tool') lastTool = message
    }
    const next = directives(text).find((c) => !made.has(c.name) && (c.force || offered.has(c.name)))
    if (next) return { toolCalls: [{ name: next.name, arguments: next.args } satisfies ToolCallSpec] }
    const marker = /secret-\d+-[a-z0-9]+/.exec(text)?.[0] ?? 'nobody'
    const result = lastTool ? textOf(lastTool.content).slice(0, 600) : 'no tool'
    // After search_documents, cite: [1] and [2] when returned, [7] never (the server drops it).
    if (lastTool && textOf(lastTool.content).includes('"passages"'))
      return { content: `answer for ${marker}: from the documents [1] and [2, 7]. ${result}`, chunkSize: 64 }
    return { content: `answer for ${marker}: ${result}`, chunkSize: slow ? 4 : 64, chunkDelayMs: slow ? 20 : 0 }
  }
}
