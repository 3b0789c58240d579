/**
 * The chat transcript model (src/web/client/transcript.ts): answers attach to their own
 * question by ids (never by text), replays add nothing twice, edit / regenerate / branch
 * switch, and runs that fail or are stopped.
 */
import { describe, expect, test } from 'bun:test'
import type { RunEvent } from '../../../src/protocol'
import { type Answer, type Entry, type Question, Transcript } from '../../../src/web/client/transcript'
import type { Message } from '../../../src/web/client/types'

const T = 't1'
let ts = 0
const envelope = (runId: string, seq: number) => ({
  runId,
  threadId: T,
  seq,
  ts: new Date(1_700_000_000_000 + ++ts).toISOString(),
  agent: 'triage',
})
const started = (runId: string, input: string, seq = 1) =>
  ({ type: 'agent_started', input, ...envelope(runId, seq) }) as RunEvent
const delta = (runId: string, seq: number, text: string) =>
  ({ type: 'message_delta', delta: text, ...envelope(runId, seq) }) as RunEvent
const completed = (
  runId: string,
  seq: number,
  status: 'completed' | 'failed' | 'cancelled',
  content = '',
  error?: { code: string; message: string },
) =>
  ({
    type: 'agent_completed',
    status,
    message: { id: `a-${runId}`, content },
    ...(error && { error }),
    ...envelope(runId, seq),
  }) as RunEvent

const msg = (id: string, role: 'user' | 'assistant', content: string, extra: Partial<Message> = {}): Message => ({
  id,
  role,
  content,
  createdAt: new Date(0).toISOString(),
  ...extra,
})

/**
 * A stored history as the server sends it, one [question, answer?] a turn: turn n is `u<n>`
 * and `a<n>` of run `r<n>`, each message the child of the one before.
 */
function history(...turns: [question: string, answer?: string][]): Message[] {
  const messages: Message[] = []
  for (const [i, [question, answer]] of turns.entries()) {
    const runId = `r${i + 1}`
    messages.push(msg(`u${i + 1}`, 'user', question, { runId, parentId: messages.at(-1)?.id ?? null }))
    if (answer !== undefined) messages.push(msg(`a${i + 1}`, 'assistant', answer, { runId, parentId: `u${i + 1}` }))
  }
  return messages
}

/** The transcript as "q:content" / "a:text" lines, in order. */
const lines = (t: Transcript) => t.entries.map((e: Entry) => (e.kind === 'question' ? `q:${e.content}` : `a:${e.text}`))

/** Runs a whole answer through the model: started, deltas, completed. */
function answer(t: Transcript, runId: string, input: string, words: string[]) {
  t.apply(started(runId, input))
  for (const [i, w] of words.entries()) t.apply(delta(runId, i + 2, w))
  t.apply(completed(runId, words.length + 2, 'completed', words.join('')))
}

describe('Transcript', () => {
  test('an answer attaches to its own question even when two questions have the same text', () => {
    const t = new Transcript(T)
    const first = t.send('req1', 'same words')
    const second = t.send('req2', 'same words')
    expect(t.pendingRequests).toBe(2)
    // The second request is accepted first and its run streams first.
    expect(t.accepted('req2', 'run2', T)).toBe(true)
    t.apply(started('run2', 'same words'))
    t.apply(delta('run2', 2, 'answer two'))
    expect(t.accepted('req1', 'run1', T)).toBe(true)
    answer(t, 'run1', 'same words', ['answer one'])
    t.apply(completed('run2', 3, 'completed'))

    expect(lines(t)).toEqual(['q:same words', 'a:answer one', 'q:same words', 'a:answer two'])
    expect(t.entries[1]).toMatchObject({ kind: 'answer', runId: 'run1' })
    expect(t.entries[3]).toMatchObject({ kind: 'answer', runId: 'run2' })
    expect(first).toMatchObject({ runId: 'run1', state: 'accepted' })
    expect(second).toMatchObject({ runId: 'run2', state: 'accepted' })
    expect(t.pendingRequests).toBe(0)
  })

  test('history questions with the same text each get their own live run, by run id', () => {
    const t = new Transcript(T)
    t.load(history(['again?', 'first answer'], ['again?']))
    expect(t.unansweredRuns()).toEqual(['r2'])
    expect(t.wants('r1', true)).toBe(false) // answered in the history
    expect(t.wants('r2', false)).toBe(true)
    answer(t, 'r2', 'again?', ['second answer'])
    // A replay of the answered run adds nothing.
    expect(t.apply(started('r1', 'again?'))).toBe(false)
    expect(lines(t)).toEqual(['q:again?', 'a:first answer', 'q:again?', 'a:second answer'])
  })

  test('a run started elsewhere brings its question along; one of another thread is ignored', () => {
    const t = new Transcript(T)
    t.load(history(['mine', 'ok']))
    answer(t, 'other-tab', 'from the phone', ['hi'])
    expect(t.apply({ ...started('x', 'elsewhere'), threadId: 't2' })).toBe(false)
    expect(lines(t)).toEqual(['q:mine', 'a:ok', 'q:from the phone', 'a:hi'])
  })

  test('resume and replay of a run do not duplicate deltas', () => {
    const t = new Transcript(T)
    t.send('req', 'count')
    t.accepted('req', 'run1', T)
    t.apply(started('run1', 'count'))
    t.apply(delta('run1', 2, 'one '))
    t.apply(delta('run1', 3, 'two '))
    // The socket drops; after `resume` the server replays from the start, then goes on;
    // meanwhile a view re-attaching replays the run's events it already had.
    for (const e of [started('run1', 'count'), delta('run1', 2, 'one '), delta('run1', 3, 'two ')])
      expect(t.apply(e)).toBe(false)
    expect(t.apply(delta('run1', 4, 'three'))).toBe(true)
    t.apply(delta('run1', 4, 'three'))
    t.apply(completed('run1', 5, 'completed', 'one two three'))
    const a = t.answerOf('run1')!
    expect(a.text).toBe('one two three')
    expect(a.events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5])
    expect(a.status).toBe('completed')
    expect(a.messageId).toBe('a-run1')
    expect(t.activeRunIds()).toEqual([])
  })

  test('events that arrive before run_accepted wait for it instead of adding a question', () => {
    const t = new Transcript(T)
    t.load(history(['hello', 'hi']))
    t.send('req', 'next')
    expect(t.apply(started('run1', 'next'))).toBe(false)
    expect(t.apply(delta('run1', 2, 'early'))).toBe(false)
    t.accepted('req', 'run1', T)
    expect(lines(t)).toEqual(['q:hello', 'a:hi', 'q:next', 'a:early'])
  })

  test('a new chat learns its thread on run_accepted; then its run shows', () => {
    const t = new Transcript()
    t.send('req', 'first ever')
    expect(t.apply(started('run1', 'first ever'))).toBe(false) // not this thread yet
    t.accepted('req', 'run1', T)
    expect(t.threadId).toBe(T)
    answer(t, 'run1', 'first ever', ['welcome'])
    expect(lines(t)).toEqual(['q:first ever', 'a:welcome'])
  })

  test('a message whose confirmation was lost gets the run that shows up next', () => {
    const t = new Transcript(T)
    const q = t.send('req', 'did it arrive?')
    t.rejected('req', { code: 'connection_lost', message: 'dropped' }, true)
    expect(q.state).toBe('lost')
    expect(t.pendingRequests).toBe(0)
    answer(t, 'run1', 'did it arrive?', ['yes'])
    expect(q).toMatchObject({ state: 'accepted', runId: 'run1' })
    expect(q.error).toBeUndefined()
    expect(lines(t)).toEqual(['q:did it arrive?', 'a:yes'])
  })

  test('a refused message is marked failed and waits for no run', () => {
    const t = new Transcript(T)
    const q = t.send('req', 'too much')
    t.rejected('req', { code: 'too_many_runs', message: 'slow down' }, false)
    expect(q).toMatchObject({ state: 'failed', error: { code: 'too_many_runs' } })
    answer(t, 'elsewhere', 'other', ['x'])
    expect(lines(t)).toEqual(['q:too much', 'q:other', 'a:x'])
  })

  test('a failed run keeps its error; a stopped run is cancelled; neither stays active', () => {
    const t = new Transcript(T)
    t.send('r1', 'will fail')
    t.accepted('r1', 'run1', T)
    t.apply(started('run1', 'will fail'))
    expect(t.activeRunIds()).toEqual(['run1'])
    t.apply(completed('run1', 2, 'failed', '', { code: 'llm_unavailable', message: 'model down' }))
    t.send('r2', 'will stop')
    t.accepted('r2', 'run2', T)
    t.apply(started('run2', 'will stop'))
    t.apply(delta('run2', 2, 'partial'))
    t.apply(completed('run2', 3, 'cancelled', 'partial'))
    // Nothing after the end counts.
    expect(t.apply(delta('run2', 4, 'late'))).toBe(false)
    const failed = t.answerOf('run1')!
    const stopped = t.answerOf('run2')!
    expect(failed).toMatchObject({ status: 'failed', error: { code: 'llm_unavailable' }, text: '' })
    expect(stopped).toMatchObject({ status: 'cancelled', text: 'partial' })
    expect(t.activeRunIds()).toEqual([])
  })

  test('edit: the question and what follows leave; the new version is sent after the same parent', () => {
    const t = new Transcript(T)
    t.load(history(['one', 'A1'], ['two', 'A2']))
    const edited = t.byMessageId('u2') as Question
    expect(edited.message?.parentId).toBe('a1')
    expect(t.truncateFrom(edited.key).map((e) => e.key)).toHaveLength(2)
    expect(t.lastMessageId()).toBe('a1')
    t.send('req', 'two, edited')
    t.accepted('req', 'r3', T)
    answer(t, 'r3', 'two, edited', ['A3'])
    expect(t.apply(started('r2', 'two'))).toBe(false) // the old branch's run stays out
    expect(lines(t)).toEqual(['q:one', 'a:A1', 'q:two, edited', 'a:A3'])
  })

  test('a live answer taken out by an edit does not come back with a replay of its run', () => {
    const t = new Transcript(T)
    const q = t.send('req', 'draft')
    t.accepted('req', 'run1', T)
    answer(t, 'run1', 'draft', ['old'])
    t.truncateFrom(q.key)
    expect(t.entries).toEqual([])
    expect(t.apply(started('run1', 'draft'))).toBe(false)
    expect(t.apply(delta('run1', 2, 'old'))).toBe(false)
    expect(t.entries).toEqual([])
  })

  test('regenerate: the old answer leaves; the new one comes under the same question', () => {
    const t = new Transcript(T)
    t.load(history(['one', 'A1'], ['two', 'A2']))
    const old = t.byMessageId('a1') as Answer
    const question = t.questionBefore(old.key)!
    expect(question.message?.id).toBe('u1')
    t.truncateFrom(old.key)
    expect(lines(t)).toEqual(['q:one'])
    t.send('req', null, { regenerateOf: question.key })
    expect(t.entries).toHaveLength(1) // no second question
    t.accepted('req', 'r9', T)
    answer(t, 'r9', 'one', ['A1 again'])
    expect(lines(t)).toEqual(['q:one', 'a:A1 again'])
    expect(question).toMatchObject({ state: 'stored', runId: 'r9' })
  })

  test('branch switch: loading another branch replaces everything, and its runs are what it wants', () => {
    const t = new Transcript(T)
    t.load(history(['q', 'v1']))
    answer(t, 'r-live-old', 'shown before', ['x'])
    t.load([msg('u1', 'user', 'q', { runId: 'r1' }), msg('a2', 'assistant', 'v2', { runId: 'r2' })])
    expect(lines(t)).toEqual(['q:q', 'a:v2'])
    expect(t.answerOf('r-live-old')).toBeUndefined()
    // A finished run of another branch stays there; an unfinished one of the thread shows.
    expect(t.wants('r-other', true)).toBe(false)
    expect(t.wants('r-live', false)).toBe(true)
  })

  test('a message sent before the history arrived stays after it, still waiting for its run', () => {
    const t = new Transcript(T)
    t.send('req', 'typed early')
    t.load(history(['q', 'a']))
    expect(lines(t)).toEqual(['q:q', 'a:a', 'q:typed early'])
    expect(t.pendingRequests).toBe(1)
    t.accepted('req', 'r2', T)
    answer(t, 'r2', 'typed early', ['late'])
    expect(lines(t)).toEqual(['q:q', 'a:a', 'q:typed early', 'a:late'])
  })

  test('after a run ends, the server ids attach to the turns shown without them', () => {
    const t = new Transcript(T)
    t.send('req', 'hello')
    t.accepted('req', 'run1', T)
    answer(t, 'run1', 'hello', ['hi'])
    const changed = t.attachMessages([
      msg('u1', 'user', 'hello', { runId: 'run1' }),
      msg('a-run1', 'assistant', 'hi', { runId: 'run1' }),
    ])
    expect(changed.map((e) => e.kind)).toEqual(['question', 'answer'])
    expect(t.byMessageId('u1')).toMatchObject({ kind: 'question', state: 'stored', content: 'hello' })
    expect(t.lastMessageId()).toBe('a-run1')
    expect(t.attachMessages([msg('u1', 'user', 'hello', { runId: 'run1' })])).toEqual([])
  })
})
