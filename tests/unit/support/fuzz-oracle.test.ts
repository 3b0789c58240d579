/**
 * The isolation fuzzer's oracle and scripted model must catch what they claim to catch; these
 * tests feed them leaks and echoes directly (the integration test then drives the real API).
 */
import { describe, expect, test } from 'bun:test'
import { checkEnvelope, scan } from '../../support/fuzz/oracle'
import { directives, fuzzBrain } from '../../support/fuzz/brain'
import { FuzzFailure, World } from '../../support/fuzz/world'

function twoUsers() {
  const world = new World()
  const user = (i: number) =>
    world.addUser({
      id: crypto.randomUUID(),
      email: `fuzz${i}-abc@example.test`,
      password: 'x',
      accessToken: 't',
      refreshToken: 'r',
      hostile: i === 1,
    })
  return { world, a: user(0), b: user(1) }
}

describe('scan', () => {
  test("another user's secret marker, id, dataset name or email is a leak; the viewer's own are not", () => {
    const { world, a, b } = twoUsers()
    const bThread = crypto.randomUUID()
    world.own(bThread, b.index, 'id')
    world.own(`${b.nameTag}x1`, b.index, 'name')
    expect(() => scan(world, a, JSON.stringify({ title: `${a.marker}-1 mine`, id: a.id }), 'own')).not.toThrow()
    for (const foreign of [`${b.marker}-3 row`, bThread, `${b.nameTag}x1`, b.email.toUpperCase()]) {
      expect(() => scan(world, a, JSON.stringify({ text: foreign }), 'leak')).toThrow(FuzzFailure)
    }
  })

  test('an id the viewer sent itself may be echoed back; its content may not', () => {
    const { world, a, b } = twoUsers()
    const bRun = crypto.randomUUID()
    world.own(bRun, b.index, 'id')
    world.send(a, bRun)
    expect(() =>
      scan(world, a, JSON.stringify({ type: 'error', code: 'not_found', runId: bRun }), 'echo'),
    ).not.toThrow()
    expect(() =>
      scan(world, a, JSON.stringify({ type: 'message_delta', runId: bRun, delta: b.marker }), 'leak'),
    ).toThrow(/secret/)
    // b's secret marker can never be "sent" by a: it is not in a's allowances.
    expect(a.sent.has(b.marker)).toBe(false)
  })

  test("an unknown id becomes the first viewer's; reaching a second user is then a leak", () => {
    const { world, a, b } = twoUsers()
    const noteId = crypto.randomUUID()
    scan(world, a, JSON.stringify({ notes: [{ id: noteId }] }), 'first sight')
    expect(world.ownerOf(noteId)).toEqual({ owner: a.index, kind: 'id' })
    expect(() => scan(world, b, JSON.stringify({ notes: [{ id: noteId }] }), 'second sight')).toThrow(
      /user 1 received id/,
    )
  })

  test("an anonymous client may see nobody's anything; admins may see accounts but not content", () => {
    const { world, a, b } = twoUsers()
    expect(() => scan(world, null, `metrics ${a.id}`, 'anon')).toThrow(/anonymous/)
    expect(() =>
      scan(world, a, JSON.stringify({ users: [{ id: b.id, email: b.email }] }), 'admin', { allowAccounts: true }),
    ).not.toThrow()
    expect(() =>
      scan(world, a, JSON.stringify({ users: [{ id: b.id, note: b.marker }] }), 'admin', { allowAccounts: true }),
    ).toThrow(/secret/)
  })

  test("admin views may name other users' ids without claiming unknown ones; never their markers, dataset names or keys", () => {
    const { world, a, b } = twoUsers()
    const bThread = crypto.randomUUID()
    world.own(bThread, b.index, 'id')
    world.own(`${b.nameTag}x1`, b.index, 'name')
    const admin = { allowAccounts: true, allowIds: true }
    const unknown = crypto.randomUUID()
    expect(() =>
      scan(world, a, JSON.stringify({ events: [{ targetId: bThread, id: unknown }] }), 'audit', admin),
    ).not.toThrow()
    expect(world.ownerOf(unknown)).toBeUndefined()
    for (const content of [b.marker, `${b.nameTag}x1`])
      expect(() => scan(world, a, JSON.stringify({ detail: content }), 'audit', admin)).toThrow(FuzzFailure)
    expect(() => scan(world, a, JSON.stringify({ id: bThread }), 'member')).toThrow(/user 0 received id/)
  })

  test("another user's API key secret or prefix is a leak", () => {
    const { world, a, b } = twoUsers()
    const secret = `lcs_${'A1b2_C3d-'.repeat(4)}xyz1234`
    world.own(secret, b.index, 'secret')
    world.own(secret.slice(0, 12), b.index, 'secret')
    expect(() => scan(world, b, JSON.stringify({ secret, key: { prefix: secret.slice(0, 12) } }), 'own')).not.toThrow()
    expect(() => scan(world, a, JSON.stringify({ secret }), 'leak')).toThrow(/secret "lcs_/)
    expect(() => scan(world, a, JSON.stringify({ prefix: secret.slice(0, 12) }), 'leak')).toThrow(/secret "lcs_/)
  })
})

describe('checkEnvelope', () => {
  test('accepts the error envelope and success answers; rejects 500s, other error shapes and stack traces', () => {
    expect(() => checkEnvelope(404, '{"error":{"code":"not_found","message":"thread not found"}}', 'x')).not.toThrow()
    expect(() => checkEnvelope(200, '{"threads":[]}', 'x')).not.toThrow()
    expect(() => checkEnvelope(500, '{"error":{"code":"internal_error","message":"m"}}', 'x')).toThrow(/500/)
    expect(() => checkEnvelope(400, '{"message":"bad"}', 'x')).toThrow(/envelope/)
    expect(() => checkEnvelope(403, 'Forbidden', 'x')).toThrow(/not JSON/)
    expect(() => checkEnvelope(200, 'Error\n    at handler (/app/src/x.ts:10:5)', 'x')).toThrow(/stack/)
  })

  test("/v1 answers use OpenAI's error shape instead", () => {
    const openai = '{"error":{"message":"thread not found","type":"not_found_error","code":"not_found"}}'
    expect(() => checkEnvelope(404, openai, 'x', true)).not.toThrow()
    expect(() => checkEnvelope(404, openai, 'x')).toThrow(/envelope/)
    expect(() => checkEnvelope(404, '{"error":{"code":"not_found","message":"m"}}', 'x', true)).toThrow(/envelope/)
  })
})

describe('the scripted model', () => {
  test('reads its directives, calls offered tools once each, then answers with the last tool result', async () => {
    const { world, a } = twoUsers()
    const brain = fuzzBrain(world)
    const text = `${a.marker}-1 hi\n#call transfer_to_data_analyst {"reason":"x"}\n#call query_dataset {"dataset":"sales"}`
    expect(directives(text).map((d) => d.name)).toEqual(['transfer_to_data_analyst', 'query_dataset'])
    const tools = (...names: string[]) => names.map((name) => ({ type: 'function', function: { name } }))
    const triage = await brain(
      {
        model: 'm',
        messages: [{ role: 'user', content: text }],
        tools: tools('transfer_to_data_analyst'),
        receivedAt: 0,
      },
      { callIndex: 0 },
    )
    expect(triage).toMatchObject({ toolCalls: [{ name: 'transfer_to_data_analyst' }] })
    const analyst = await brain(
      {
        model: 'm',
        messages: [
          { role: 'user', content: text },
          {
            role: 'assistant',
            content: '',
            tool_calls: [{ function: { name: 'transfer_to_data_analyst', arguments: {} } }],
          },
          { role: 'tool', content: '{}' },
        ],
        tools: tools('query_dataset', 'list_datasets'),
        receivedAt: 0,
      },
      { callIndex: 1 },
    )
    expect(analyst).toMatchObject({ toolCalls: [{ name: 'query_dataset', arguments: { dataset: 'sales' } }] })
    const answer = await brain(
      {
        model: 'm',
        messages: [
          { role: 'user', content: text },
          { role: 'assistant', content: '', tool_calls: [{ function: { name: 'query_dataset', arguments: {} } }] },
          { role: 'tool', content: '{"rows":[{"tag":"mine"}]}' },
        ],
        tools: tools('query_dataset'),
        receivedAt: 0,
      },
      { callIndex: 2 },
    )
    expect((answer as { content: string }).content).toBe(`answer for ${a.marker}: {"rows":[{"tag":"mine"}]}`)
    expect(world.violations).toEqual([])
  })

  test("records a violation when a prompt carries another user's marker", async () => {
    const { world, a, b } = twoUsers()
    await fuzzBrain(world)(
      {
        model: 'm',
        messages: [
          { role: 'user', content: `${b.marker}-1 old` },
          { role: 'user', content: `${a.marker}-2 now` },
        ],
        receivedAt: 0,
      },
      { callIndex: 0 },
    )
    expect(world.violations).toHaveLength(1)
    expect(world.violations[0]).toContain(`user 1's marker`)
  })
})
