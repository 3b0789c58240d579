import { describe, expect, test } from 'bun:test'
import { Type } from '@sinclair/typebox'
import { createToolDispatcher, ToolError } from '../../../src/tools/dispatcher'
import type { ToolDefinition, ToolOutcome } from '../../../src/tools/types'
import { MAX_ARGUMENT_DEPTH } from '../../../src/tools/arguments'
import { createUserContext, currentContext, currentUser, type UserContext } from '../../../src/context/user-context'

const never = () => new AbortController().signal

function tool(
  name: string,
  execute: ToolDefinition['execute'],
  parameters: ToolDefinition['parameters'] = Type.Object({}),
): ToolDefinition {
  return { name, description: `the ${name} tool`, parameters, execute }
}

/** Runs `fn` inside a fresh user context (as the run manager does for a run). */
async function asUser<T>(userId: string, fn: (ctx: UserContext) => Promise<T>): Promise<T> {
  const ctx = createUserContext({ userId, role: 'member', runId: `run-${userId}`, metadata: { run: true } })
  try {
    return await ctx.run(() => fn(ctx))
  } finally {
    await ctx.dispose()
  }
}

const failure = (outcome: ToolOutcome) => {
  if (outcome.ok) throw new Error(`expected a failure, got ${JSON.stringify(outcome.result)}`)
  return outcome.error
}
const success = (outcome: ToolOutcome) => {
  if (!outcome.ok) throw new Error(`expected success, got ${JSON.stringify(outcome.error)}`)
  return outcome.result as any
}

const echo = tool(
  'echo',
  async (args) => ({ args }),
  Type.Object({
    text: Type.String({ minLength: 1, maxLength: 20 }),
    count: Type.Optional(Type.Integer({ minimum: 1, maximum: 10 })),
    mode: Type.Optional(Type.Union([Type.Literal('loud'), Type.Literal('quiet')])),
    tags: Type.Optional(Type.Array(Type.String(), { maxItems: 2 })),
  }),
)

describe('argument validation', () => {
  const tools = createToolDispatcher([echo], { timeoutMs: 1000 })
  const call = (args: unknown) => asUser('u1', () => tools.call('echo', args, { signal: never() }))

  test('valid arguments reach the tool', async () => {
    expect(success(await call({ text: 'hi', count: 3, mode: 'loud' }))).toEqual({
      args: { text: 'hi', count: 3, mode: 'loud' },
    })
  })

  test('a numeric string for a number is converted', async () => {
    expect(success(await call({ text: 'hi', count: '5' })).args.count).toBe(5)
  })

  test('a lone scalar is taken as text or as a one-item list', async () => {
    expect(success(await call({ text: 5, tags: 'a' })).args).toEqual({ text: '5', tags: ['a'] })
  })

  test('arguments as a JSON string are parsed', async () => {
    expect(success(await call('{"text":"from a string","count":2}')).args).toEqual({ text: 'from a string', count: 2 })
  })

  test('null means "not given" and unknown properties are dropped', async () => {
    const result = success(await call({ text: 'hi', count: null, extra: 'x', __proto__: { polluted: true } }))
    expect(result.args).toEqual({ text: 'hi' })
    expect(({} as any).polluted).toBeUndefined()
  })

  test('a JSON __proto__ key neither reaches the tool nor pollutes prototypes', async () => {
    const result = success(
      await call('{"text":"hi","__proto__":{"polluted":true},"constructor":{"prototype":{"bad":1}}}'),
    )
    expect(Object.keys(result.args)).toEqual(['text'])
    expect(({} as any).polluted).toBeUndefined()
    expect(({} as any).bad).toBeUndefined()
  })

  test.each([
    [{}, 'echo: text is required'],
    [{ text: [1, 2] }, 'echo: text must be a string, got a list'],
    [{ text: '' }, 'echo: text must not be empty'],
    [{ text: 'x'.repeat(21) }, 'echo: text must be at most 20 characters'],
    [{ text: 'hi', count: 'five' }, 'echo: count must be a number, got string'],
    [{ text: 'hi', count: 1.5 }, 'echo: count must be a whole number'],
    [{ text: 'hi', count: '2.5' }, 'echo: count must be a whole number'],
    [{ text: 'hi', count: 11 }, 'echo: count must be at most 10'],
    [{ text: 'hi', mode: 'shouty' }, 'echo: mode must be one of "loud", "quiet"'],
    [{ text: 'hi', tags: { a: 1 } }, 'echo: tags[0] must be a string, got object'],
    [{ text: 'hi', tags: ['a', 'b', 'c'] }, 'echo: tags must have at most 2 items'],
    [{ text: { toString: 'injected' } }, 'echo: text must be a string, got object'],
    [['hi'], 'echo: arguments must be a JSON object'],
    [42, 'echo: arguments must be a JSON object'],
    ['{not json', 'echo: arguments are not valid JSON'],
  ])('%j → invalid_arguments "%s"', async (args, message) => {
    expect(failure(await call(args))).toEqual({ code: 'invalid_arguments', message })
  })

  test('arguments nested deeper than MAX_ARGUMENT_DEPTH are refused before anything walks them', async () => {
    const nest = (depth: number) => {
      let value: unknown = 'x'
      for (let i = 0; i < depth; i++) value = [value]
      return value
    }
    const message = `echo: arguments may nest objects and lists at most ${MAX_ARGUMENT_DEPTH} deep`
    // A million levels: a recursive walk (JSON.stringify) would overflow the stack or take seconds.
    expect(failure(await call({ text: 'hi', tags: nest(1_000_000) }))).toEqual({ code: 'invalid_arguments', message })
    expect(failure(await call({ text: 'hi', tags: nest(MAX_ARGUMENT_DEPTH) }))).toEqual({
      code: 'invalid_arguments',
      message,
    })
    // Just inside the limit, the arguments are judged by the schema as usual.
    expect(failure(await call({ text: 'hi', tags: nest(MAX_ARGUMENT_DEPTH - 1) }))?.message).not.toBe(message)
  })

  test('invalid arguments never run the tool', async () => {
    let ran = 0
    const counted = createToolDispatcher([tool('t', async () => ++ran, Type.Object({ n: Type.Number() }))], {
      timeoutMs: 1000,
    })
    await asUser('u1', () => counted.call('t', { n: 'abc' }, { signal: never() }))
    expect(ran).toBe(0)
  })

  test('a tool may normalise arguments before validation', async () => {
    const t = createToolDispatcher(
      [
        {
          ...tool('list', async (args) => args, Type.Object({ items: Type.Array(Type.String()) })),
          normalize: (a) => (typeof a.items === 'string' ? { ...a, items: [a.items] } : a),
        },
      ],
      { timeoutMs: 1000 },
    )
    expect(success(await asUser('u1', () => t.call('list', { items: 'one' }, { signal: never() })))).toEqual({
      items: ['one'],
    })
  })
})

describe('unknown and disallowed tools', () => {
  const tools = createToolDispatcher([echo, tool('other', async () => 1)], { timeoutMs: 1000 })

  test('an unknown tool is unknown_tool and lists what exists', async () => {
    const error = failure(await asUser('u1', () => tools.call('rm_rf', {}, { signal: never() })))
    expect(error.code).toBe('unknown_tool')
    expect(error.message).toContain('"rm_rf"')
    expect(error.message).toContain('echo, other')
  })

  test('a tool outside the allowed list is unknown_tool and is not run', async () => {
    let ran = false
    const guarded = createToolDispatcher([tool('secret', async () => (ran = true)), echo], { timeoutMs: 1000 })
    const error = failure(await asUser('u1', () => guarded.call('secret', {}, { signal: never(), allowed: ['echo'] })))
    expect(error.code).toBe('unknown_tool')
    expect(error.message).toContain('available tools: echo')
    expect(error.message).not.toContain('secret, ')
    expect(ran).toBe(false)
  })

  test('prototype names are not tools', async () => {
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      expect(failure(await asUser('u1', () => tools.call(name, {}, { signal: never() }))).code).toBe('unknown_tool')
    }
  })

  test('duplicate tool names are refused at construction', () => {
    expect(() => createToolDispatcher([echo, echo], { timeoutMs: 1000 })).toThrow('defined twice')
  })
})

describe('timeouts, aborts and errors', () => {
  test('a tool that never finishes ends with tool_timeout, and its signal is aborted', async () => {
    let seen: AbortSignal | undefined
    const tools = createToolDispatcher(
      [tool('hang', (_args, { signal }) => ((seen = signal), new Promise(() => {})))],
      { timeoutMs: 50 },
    )
    const started = performance.now()
    const error = failure(await asUser('u1', () => tools.call('hang', {}, { signal: never() })))
    expect(error.code).toBe('tool_timeout')
    expect(error.message).toContain('50 ms')
    expect(performance.now() - started).toBeLessThan(1000)
    expect(seen?.aborted).toBe(true)
  })

  test('the caller aborting mid-call ends it with cancelled at once', async () => {
    const controller = new AbortController()
    let seen: AbortSignal | undefined
    const tools = createToolDispatcher(
      [tool('slow', (_args, { signal }) => ((seen = signal), new Promise(() => {})))],
      { timeoutMs: 10_000 },
    )
    setTimeout(() => controller.abort(), 20)
    const started = performance.now()
    const error = failure(await asUser('u1', () => tools.call('slow', {}, { signal: controller.signal })))
    expect(error.code).toBe('cancelled')
    expect(performance.now() - started).toBeLessThan(2000)
    expect(seen?.aborted).toBe(true)
  })

  test('an already aborted signal does not run the tool', async () => {
    let ran = false
    const tools = createToolDispatcher([tool('t', async () => (ran = true))], { timeoutMs: 1000 })
    const error = failure(await asUser('u1', () => tools.call('t', {}, { signal: AbortSignal.abort() })))
    expect(error.code).toBe('cancelled')
    expect(ran).toBe(false)
  })

  test('disposing the run context cancels its tool calls', async () => {
    const tools = createToolDispatcher([tool('slow', () => new Promise(() => {}))], { timeoutMs: 10_000 })
    const ctx = createUserContext({ userId: 'u1', role: 'member' })
    const pending = ctx.run(() => tools.call('slow', {}, { signal: never() }))
    setTimeout(() => void ctx.dispose(), 20)
    expect(failure(await pending).code).toBe('cancelled')
  })

  test('a thrown error becomes tool_error with its message and no stack', async () => {
    const tools = createToolDispatcher(
      [
        tool('boom', async () => {
          throw new Error('the disk is on fire')
        }),
        tool('sync', () => {
          throw new TypeError('sync throw')
        }),
        tool('odd', async () => {
          throw 'a string'
        }),
        tool('coded', async () => {
          throw new ToolError('no such thing', 'not_found')
        }),
      ],
      { timeoutMs: 1000 },
    )
    const run = (name: string) => asUser('u1', () => tools.call(name, {}, { signal: never() }))
    const boom = failure(await run('boom'))
    expect(boom).toEqual({ code: 'tool_error', message: 'the disk is on fire' })
    expect(JSON.stringify(boom)).not.toMatch(/\bat |\.ts:\d+/)
    expect(failure(await run('sync'))).toEqual({ code: 'tool_error', message: 'sync throw' })
    expect(failure(await run('odd'))).toEqual({ code: 'tool_error', message: 'a string' })
    expect(failure(await run('coded'))).toEqual({ code: 'not_found', message: 'no such thing' })
  })

  test('a call outside any user context fails without running', async () => {
    let ran = false
    const tools = createToolDispatcher([tool('t', async () => (ran = true))], { timeoutMs: 1000 })
    const outcome = await tools.call('t', {}, { signal: never() })
    expect(failure(outcome).message).toContain('no user context')
    expect(ran).toBe(false)
  })

  test('every outcome has a durationMs', async () => {
    const tools = createToolDispatcher([tool('nap', async () => (await Bun.sleep(30), 'ok'))], { timeoutMs: 1000 })
    const outcome = await asUser('u1', () => tools.call('nap', {}, { signal: never() }))
    expect(outcome.durationMs).toBeGreaterThanOrEqual(25)
    expect(Number.isInteger(outcome.durationMs)).toBe(true)
  })
})

describe('results', () => {
  test('results are plain JSON: dates become strings, undefined becomes null', async () => {
    const tools = createToolDispatcher(
      [tool('date', async () => ({ at: new Date(0), skip: undefined })), tool('nothing', async () => undefined)],
      { timeoutMs: 1000 },
    )
    expect(success(await asUser('u1', () => tools.call('date', {}, { signal: never() })))).toEqual({
      at: '1970-01-01T00:00:00.000Z',
    })
    expect(success(await asUser('u1', () => tools.call('nothing', {}, { signal: never() })))).toBeNull()
  })

  test('a result that is not JSON data is a tool error', async () => {
    const cyclic: any = {}
    cyclic.self = cyclic
    const tools = createToolDispatcher([tool('big', async () => ({ n: 1n })), tool('cycle', async () => cyclic)], {
      timeoutMs: 1000,
    })
    expect(failure(await asUser('u1', () => tools.call('big', {}, { signal: never() }))).code).toBe('tool_error')
    expect(failure(await asUser('u1', () => tools.call('cycle', {}, { signal: never() }))).message).toContain(
      'not JSON',
    )
  })

  test('an oversized list is cut to fit and marked truncated', async () => {
    const rows = Array.from({ length: 5000 }, (_, i) => ({ id: i, text: 'x'.repeat(40) }))
    const tools = createToolDispatcher([tool('rows', async () => ({ columns: ['id', 'text'], rows }))], {
      timeoutMs: 1000,
      maxResultBytes: 16 * 1024,
    })
    const result = success(await asUser('u1', () => tools.call('rows', {}, { signal: never() })))
    expect(result.truncated).toBe(true)
    expect(result.columns).toEqual(['id', 'text'])
    expect(result.rows.length).toBeGreaterThan(10)
    expect(result.rows.length).toBeLessThan(5000)
    expect(result.rows[0]).toEqual({ id: 0, text: 'x'.repeat(40) })
    expect(Buffer.byteLength(JSON.stringify(result))).toBeLessThanOrEqual(16 * 1024)
    expect(result.note).toContain(`of 5000 rows`)
  })

  test('an oversized result that cannot be cut is result_too_large', async () => {
    const tools = createToolDispatcher([tool('blob', async () => ({ text: 'y'.repeat(100_000) }))], { timeoutMs: 1000 })
    expect(failure(await asUser('u1', () => tools.call('blob', {}, { signal: never() }))).code).toBe('result_too_large')
  })
})

describe('user context of a call', () => {
  test('each call runs in its own child of the active context, disposed afterwards', async () => {
    let seen: { ctx: UserContext; active: UserContext; fromCall: UserContext } | undefined
    const tools = createToolDispatcher(
      [
        tool('probe', async (_args, call) => {
          seen = { ctx: call.context, active: currentContext(), fromCall: call.context }
          return { userId: currentUser().userId }
        }),
      ],
      { timeoutMs: 1000 },
    )
    await asUser('alice', async (parent) => {
      const result = success(await tools.call('probe', {}, { signal: never() }))
      expect(result).toEqual({ userId: 'alice' })
      expect(seen!.active).toBe(seen!.ctx)
      expect(seen!.ctx).not.toBe(parent)
      expect(seen!.ctx.parent).toBe(parent)
      expect(seen!.ctx.depth).toBe(parent.depth + 1)
      expect(seen!.ctx.userId).toBe('alice')
      expect(seen!.ctx.runId).toBe('run-alice')
      expect(seen!.ctx.metadata).toEqual({ run: true, tool: 'probe' })
      expect(seen!.ctx.disposed).toBe(true)
      expect(parent.disposed).toBe(false)
      // After the call the parent is the active context again.
      expect(currentContext()).toBe(parent)
    })
  })

  test('a call made from inside a tool call is one level deeper still', async () => {
    const depths: number[] = []
    const inner = tool('inner', async (_a, call) => void depths.push(call.context.depth))
    let tools: ReturnType<typeof createToolDispatcher>
    const outer = tool('outer', async (_a, call) => {
      depths.push(call.context.depth)
      return tools.call('inner', {}, { signal: call.signal })
    })
    tools = createToolDispatcher([inner, outer], { timeoutMs: 1000 })
    await asUser('bob', async (ctx) => {
      success(await tools.call('outer', {}, { signal: never() }))
      expect(depths).toEqual([ctx.depth + 1, ctx.depth + 2])
    })
  })

  test('two users calling concurrently each see only their own context', async () => {
    const tools = createToolDispatcher(
      [
        tool(
          'whoami',
          async (args: any, call) => {
            const seen: string[] = []
            for (let i = 0; i < 5; i++) {
              await Bun.sleep(Math.random() * 5)
              seen.push(currentUser().userId, call.context.userId)
            }
            return { seen, label: args.label }
          },
          Type.Object({ label: Type.String() }),
        ),
      ],
      { timeoutMs: 2000 },
    )
    const users = ['alice', 'bob', 'carol', 'dave']
    const results = await Promise.all(
      users.flatMap((user) =>
        Array.from({ length: 5 }, (_, i) =>
          asUser(user, async () => ({
            user,
            result: success(await tools.call('whoami', { label: `same-${i}` }, { signal: never() })),
          })),
        ),
      ),
    )
    for (const { user, result } of results) {
      expect(result.seen).toHaveLength(10)
      expect(new Set(result.seen)).toEqual(new Set([user]))
    }
  })
})

describe('specs', () => {
  test('specs are plain JSON schema in Ollama shape, enums for literal unions, unknown names skipped', () => {
    const tools = createToolDispatcher([echo, tool('other', async () => 1)], { timeoutMs: 1000 })
    const specs = tools.specs(['echo', 'missing'])
    expect(specs).toHaveLength(1)
    const [spec] = specs
    expect(spec.type).toBe('function')
    expect(spec.function.name).toBe('echo')
    expect(spec.function.description).toBe('the echo tool')
    const parameters = spec.function.parameters as any
    expect(parameters.type).toBe('object')
    expect(parameters.required).toEqual(['text'])
    expect(parameters.properties.mode).toEqual({ type: 'string', enum: ['loud', 'quiet'] })
    expect(Object.getOwnPropertySymbols(parameters)).toEqual([])
    expect(JSON.parse(JSON.stringify(parameters))).toEqual(parameters)
    expect(tools.specs(['other', 'echo']).map((s) => s.function.name)).toEqual(['other', 'echo'])
  })
})
