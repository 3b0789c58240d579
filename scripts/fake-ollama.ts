/**
 * Offline stand-in for Ollama: serves the real Ollama HTTP API with the rule-based demo brain.
 *
 *   bun run scripts/fake-ollama.ts [--port 11434] [--delay 15] [--models llama3.2,qwen3]
 *   (or: bun run fake-ollama)
 *
 * Then point the chat server at it:
 *
 *   OLLAMA_HOST=http://127.0.0.1:11434 bun run start
 *
 * Port: --port, else $PORT, else 11434 (Ollama's default, so no OLLAMA_HOST is needed if no
 * real Ollama runs). --delay sets ms between streamed chunks (default 15, so streaming is visible
 * in a browser). Stays up until Ctrl-C.
 */
import { createDemoBrain } from '../src/testing/demo-brain'
import { startFakeOllama, type ChatHandler } from '../src/testing/fake-ollama'

function flag(name: string): string | undefined {
  const args = process.argv.slice(2)
  const i = args.indexOf(`--${name}`)
  if (i >= 0) return args[i + 1]
  return args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3)
}

function intFlag(value: string | undefined, fallback: number, what: string): number {
  if (value === undefined || value === '') return fallback
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0) {
    console.error(`Invalid ${what}: ${value}`)
    process.exit(2)
  }
  return n
}

const port = intFlag(flag('port') ?? process.env.PORT, 11434, 'port')
const chunkDelayMs = intFlag(flag('delay'), 15, 'delay')
const models = (flag('models') ?? 'llama3.2')
  .split(',')
  .map((m) => m.trim())
  .filter(Boolean)

const brain = createDemoBrain({ chunkDelayMs })
// Log one line per chat call so it is easy to follow what the server asked for.
const loggingBrain: ChatHandler = async (req, info) => {
  const reply = await brain(req, info)
  const last = req.messages.at(-1)
  const asked = last ? `${last.role}${last.tool_name ? `(${last.tool_name})` : ''}` : 'no messages'
  const answered =
    'toolCalls' in reply && reply.toolCalls?.length
      ? `tool calls: ${reply.toolCalls.map((c) => c.name).join(', ')}`
      : 'content' in reply
        ? `text: ${JSON.stringify((reply.content ?? '').slice(0, 60))}`
        : 'other'
  console.log(`#${info.callIndex} ${req.model} [${(req.tools ?? []).length} tools] ${asked} -> ${answered}`)
  return reply
}

const fake = await startFakeOllama({ port, handler: loggingBrain, models }).catch((err: Error) => {
  console.error(`Could not listen on 127.0.0.1:${port}: ${err.message}`)
  return process.exit(1)
})
console.log(`Fake Ollama (demo brain) listening on ${fake.url}  models: ${models.join(', ')}`)
console.log(`Start the server with: OLLAMA_HOST=${fake.url} bun run start`)

const shutdown = async () => {
  console.log('\nStopping fake Ollama…')
  await fake.close()
  process.exit(0)
}
process.on('SIGINT', shutdown)
process.on('SIGTERM', shutdown)
