/**
 * A rule-based stand-in for a model, for offline development and browser demos with the fake
 * Ollama server. It reads the request's `tools` and `messages` and answers the way a small
 * tool-using model would: triage routes with `transfer_to_*`, the data analyst lists then
 * queries datasets, the notes assistant saves/searches notes, the planner asks for the time,
 * the researcher searches the user's documents and answers citing the numbered passages
 * (`[n]`), and every tool result is summarised in plain text ending with an actionable "Focus on …".
 *
 * It always emits a short `thinking` text so the thinking path is exercised (the fake drops it
 * when the request says `think: false`).
 */
import type { ChatHandler, ChatRequestRecord, ContentReply, ToolCallSpec } from './fake-ollama'

export interface DemoBrainOptions {
  /** Characters per streamed chunk (default 4, like the fake). */
  chunkSize?: number
  /** Delay between chunks; a few ms makes streaming visible in a browser (default 0). */
  chunkDelayMs?: number
}

interface Decision {
  thinking: string
  content?: string
  toolCalls?: ToolCallSpec[]
}

type Msg = { role?: string; content?: unknown; tool_name?: string; name?: string; tool_calls?: any[] }

// ---------------------------------------------------------------------------------------------
// Reading the request

function text(value: unknown): string {
  return typeof value === 'string' ? value : value == null ? '' : JSON.stringify(value)
}

function parseJson(value: unknown): unknown {
  if (typeof value !== 'string') return value
  try {
    return JSON.parse(value)
  } catch {
    return value
  }
}

function isRecord(value: unknown): value is Record<string, any> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function toolsByName(req: ChatRequestRecord): Map<string, any> {
  const map = new Map<string, any>()
  for (const tool of req.tools ?? []) {
    const name = tool?.function?.name
    if (typeof name === 'string') map.set(name, tool)
  }
  return map
}

function lastUserIndex(messages: Msg[]): number {
  for (let i = messages.length - 1; i >= 0; i--) if (messages[i]?.role === 'user') return i
  return -1
}

/**
 * The tool a result message belongs to: `tool_name` (Ollama's field), else matched by position
 * against the preceding assistant message's tool calls.
 */
function toolNameOf(messages: Msg[], index: number): string | undefined {
  const msg = messages[index]
  if (!msg) return undefined
  if (typeof msg.tool_name === 'string') return msg.tool_name
  if (typeof msg.name === 'string') return msg.name
  let offset = 0
  for (let i = index - 1; i >= 0; i--) {
    const prev = messages[i]!
    if (prev.role === 'tool') {
      offset++
      continue
    }
    return prev.role === 'assistant' ? prev.tool_calls?.[offset]?.function?.name : undefined
  }
  return undefined
}

/** Index of the latest result of `name` at or after `from`, or -1. */
function lastToolResult(messages: Msg[], name: string, from = 0): number {
  for (let i = messages.length - 1; i >= Math.max(0, from); i--) {
    if (messages[i]?.role === 'tool' && toolNameOf(messages, i) === name) return i
  }
  return -1
}

/** The argument name a tool's JSON schema uses, preferring the given candidates. */
function paramName(tool: any, candidates: string[], type = 'string'): string {
  const props: Record<string, any> = tool?.function?.parameters?.properties ?? {}
  const found = candidates.find((c) => c in props)
  if (found) return found
  const typed = Object.keys(props).find((k) => props[k]?.type === type)
  return typed ?? candidates[0]!
}

const STOPWORDS = new Set(
  (
    'a an the and or but of to in on at for with about from by is are was were be been it its this that these those ' +
    'i me my we our you your he she they them what which who whom when where why how do does did can could would ' +
    'should will shall please find search look up show tell give any some all note notes remember saved save history ' +
    'there have has had again know'
  ).split(' '),
)

function keywords(userText: string, max = 5): string[] {
  const words = userText.toLowerCase().match(/[\p{L}\p{N}][\p{L}\p{N}'-]*/gu) ?? []
  return [...new Set(words.filter((w) => w.length > 1 && !STOPWORDS.has(w)))].slice(0, max)
}

function firstWords(s: string, n: number): string {
  const words = s.trim().split(/\s+/).filter(Boolean)
  const head = words
    .slice(0, n)
    .join(' ')
    .replace(/[\s.,;:!?]+$/, '')
  return words.length > n ? `${head}…` : head
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1)
}

const fmt = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: 2 })

// ---------------------------------------------------------------------------------------------
// Triage

const ROUTES: { tool: string; label: string; pattern: RegExp }[] = [
  {
    tool: 'transfer_to_data_analyst',
    label: 'data analyst',
    pattern: /\b(data|csv|datasets?|sales|sells?|regions?|average|avg|sum|totals?|revenue|columns?|rows?|chart)\b/gi,
  },
  { tool: 'transfer_to_notes_assistant', label: 'notes assistant', pattern: /\b(notes?|remember|history|jot)\b/gi },
  {
    tool: 'transfer_to_planner',
    label: 'planner',
    pattern: /\b(plan|planning|schedule|time|today|tomorrow|agenda|week)\b/gi,
  },
  {
    tool: 'transfer_to_researcher',
    label: 'researcher',
    pattern: /\b(documents?|docs|pdfs?|files?|manuals?|papers?|reports?|sources?|cite|citations?|according)\b/gi,
  },
]

function triage(userText: string, tools: Map<string, any>): Decision {
  let best: { tool: string; label: string; hits: string[] } | undefined
  for (const route of ROUTES) {
    if (!tools.has(route.tool)) continue
    const hits = [...userText.matchAll(route.pattern)].map((m) => m[0].toLowerCase())
    if (hits.length > 0 && (!best || hits.length > best.hits.length)) best = { ...route, hits }
  }
  if (best) {
    const reason = `The user mentions ${[...new Set(best.hits)].join(', ')}: a job for the ${best.label}.`
    return {
      thinking: `Looking at the request… it is about ${best.hits[0]}, so the ${best.label} should handle it.`,
      toolCalls: [{ name: best.tool, arguments: { reason } }],
    }
  }
  return {
    thinking: 'Looking at the request… nothing here needs a specialist, so I will answer directly.',
    content:
      'Hi! I can analyse your datasets (try "which region sells most in my sales csv?"), ' +
      'save and find notes, or plan your day. Focus on telling me which of these you need.',
  }
}

// ---------------------------------------------------------------------------------------------
// Specialists: the next tool call, or undefined when there is nothing to call.

interface DatasetInfo {
  id?: unknown
  name: string
  columns: { name: string; type: string }[]
  rowCount?: number
}

function datasetsFrom(result: unknown): DatasetInfo[] {
  const list = isRecord(result) ? result.datasets : Array.isArray(result) ? result : undefined
  if (!Array.isArray(list)) return []
  return list.filter((d): d is DatasetInfo => isRecord(d) && typeof d.name === 'string' && Array.isArray(d.columns))
}

function queryFromDatasets(result: unknown, question = ''): Decision {
  const dataset = datasetsFrom(result)[0]
  if (!dataset) {
    return {
      thinking: 'Looking at the request… there are no datasets to query.',
      content: 'You have no datasets yet. Focus on uploading a CSV first, then ask me again.',
    }
  }
  const isNumber = (t: string) => /^(number|numeric|integer|int|float|real|double|decimal)$/i.test(t)
  const isText = (t: string) => /^(text|string|str|varchar|char|category|categorical)$/i.test(t)
  const isTemporal = (t: string) => /date|time/i.test(t)
  // Like a model would: a column the question names first, then a category-like text column
  // (not a date), and for the figure a money-like column before any other number.
  const asked = (name: string) => question.toLowerCase().includes(name.toLowerCase())
  const texts = dataset.columns.filter((c) => isText(c.type) || (!isNumber(c.type) && !isTemporal(c.type)))
  const textCol =
    texts.find((c) => asked(c.name)) ?? texts.find((c) => !/date|time|day|month|year/i.test(c.name)) ?? texts[0]
  const numbers = dataset.columns.filter((c) => isNumber(c.type))
  const numCol =
    numbers.find((c) => asked(c.name)) ??
    numbers.find((c) => /amount|revenue|sales|total|price|value/i.test(c.name)) ??
    numbers[0]
  if (!textCol || !numCol) {
    return {
      thinking: `Looking at the request… ${dataset.name} lacks a text or number column to group by.`,
      content: `The dataset "${dataset.name}" needs both a text and a numeric column for a ranking. Focus on a dataset with categories and figures.`,
    }
  }
  return {
    thinking: `Looking at the request… I will total ${numCol.name} by ${textCol.name} in ${dataset.name}.`,
    toolCalls: [
      {
        name: 'query_dataset',
        arguments: {
          dataset: dataset.name,
          groupBy: [textCol.name],
          aggregate: { fn: 'sum', column: numCol.name },
          orderBy: { column: `sum_${numCol.name}`, dir: 'desc' },
        },
      },
    ],
  }
}

const REMEMBER = /\b(remember|save|store|jot|write down|note down|make a note|take a note)\b/i

function notesCall(userText: string, tools: Map<string, any>): Decision | undefined {
  if (tools.has('save_note') && REMEMBER.test(userText)) {
    const tool = tools.get('save_note')
    const body =
      capitalise(
        userText
          .replace(
            /^\s*(please\s+)?(can you\s+)?(remember|save|store|jot down|write down|note down|make a note|take a note)(\s+(a note|this|that))?\s*(:|that\b|to\b)?\s*/i,
            '',
          )
          .trim(),
      ) || userText.trim()
    return {
      thinking: 'Looking at the request… the user wants this remembered, so I will save a note.',
      toolCalls: [
        {
          name: 'save_note',
          arguments: {
            [paramName(tool, ['title', 'name'])]: firstWords(body, 6),
            [paramName(tool, ['body', 'content', 'text'])]: body,
          },
        },
      ],
    }
  }
  if (tools.has('search_notes')) {
    const words = keywords(userText)
    return {
      thinking: `Looking at the request… I will search the notes for ${words.join(', ') || 'the question'}.`,
      toolCalls: [
        {
          name: 'search_notes',
          arguments: { [paramName(tools.get('search_notes'), ['query', 'q', 'text'])]: words.join(' ') || userText },
        },
      ],
    }
  }
  return undefined
}

function researchCall(messages: Msg[], tools: Map<string, any>, userText: string): Decision | undefined {
  if (!tools.has('search_documents') || lastToolResult(messages, 'search_documents', lastUserIndex(messages)) >= 0)
    return undefined
  const words = keywords(userText.replace(ROUTES.at(-1)!.pattern, ' '))
  return {
    thinking: `Looking at the request… I will search the documents for ${words.join(', ') || 'the question'}.`,
    toolCalls: [
      {
        name: 'search_documents',
        arguments: { [paramName(tools.get('search_documents'), ['query', 'q'])]: words.join(' ') || userText },
      },
    ],
  }
}

function specialistCall(messages: Msg[], tools: Map<string, any>, userText: string): Decision | undefined {
  const research = researchCall(messages, tools, userText)
  if (research) return research
  if (tools.has('query_dataset') && tools.has('list_datasets')) {
    const listed = lastToolResult(messages, 'list_datasets')
    if (listed < 0) {
      return {
        thinking: 'Looking at the request… first I need to know which datasets exist.',
        toolCalls: [{ name: 'list_datasets', arguments: {} }],
      }
    }
    return queryFromDatasets(parseJson(messages[listed]!.content), userText)
  }
  const notes = notesCall(userText, tools)
  if (notes) return notes
  if (tools.has('current_time') && lastToolResult(messages, 'current_time', lastUserIndex(messages)) < 0) {
    return {
      thinking: 'Looking at the request… to plan I need the current time.',
      toolCalls: [{ name: 'current_time', arguments: {} }],
    }
  }
  return undefined
}

// ---------------------------------------------------------------------------------------------
// Summaries of tool results

function summariseQuery(result: unknown): string {
  if (!isRecord(result) || !Array.isArray(result.rows)) return summariseOther('query_dataset', result)
  const columns: string[] = Array.isArray(result.columns)
    ? result.columns.map((c: unknown) => (isRecord(c) ? String(c.name) : String(c)))
    : isRecord(result.rows[0])
      ? Object.keys(result.rows[0])
      : []
  // Rows may be arrays aligned with `columns` or objects keyed by column name.
  const rows: Record<string, unknown>[] = result.rows.map((r: unknown) =>
    Array.isArray(r) ? Object.fromEntries(columns.map((c, i) => [c, r[i]])) : isRecord(r) ? r : {},
  )
  if (rows.length === 0) return 'The query returned no rows. Focus on checking the dataset name and filters.'
  const numeric = (v: unknown) =>
    typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN
  const numCol = columns.find((c) => rows.every((r) => Number.isFinite(numeric(r[c]))))
  const labelCol = columns.find((c) => c !== numCol && rows.some((r) => typeof r[c] === 'string'))
  if (!numCol) return `The query returned ${rows.length} row(s) without numeric figures. Focus on adding an aggregate.`
  const label = (r: Record<string, unknown>, i: number) => (labelCol ? String(r[labelCol]) : `row ${i + 1}`)
  const ranked = rows
    .map((r, i) => ({ name: label(r, i), value: numeric(r[numCol]) }))
    .sort((a, b) => b.value - a.value)
  const [top, second] = ranked as [{ name: string; value: number }, { name: string; value: number } | undefined]
  const figures = ranked
    .slice(0, 8)
    .map((r) => `${r.name} ${fmt(r.value)}`)
    .join(', ')
  const lead =
    second && second.value > 0
      ? ` It is ${fmt(((top.value - second.value) / second.value) * 100)}% ahead of ${second.name}.`
      : ''
  return (
    `${top.name} has the largest ${numCol} (${fmt(top.value)}).${lead} Figures: ${figures}${ranked.length > 8 ? ', …' : ''}. ` +
    `Focus on ${top.name}: find out what drives it and whether ${second ? second.name : 'the others'} can copy it.`
  )
}

function noteTitle(result: unknown, messages: Msg[]): string | undefined {
  if (isRecord(result)) {
    const t = result.title ?? result.note?.title
    if (typeof t === 'string') return t
  }
  // Fall back to the title we asked for in the preceding tool call.
  for (let i = messages.length - 1; i >= 0; i--) {
    const call = messages[i]?.tool_calls?.find((c: any) => c?.function?.name === 'save_note')
    if (call) return call.function.arguments?.title ?? call.function.arguments?.name
  }
  return undefined
}

function summariseSearch(result: unknown): string {
  const list = Array.isArray(result)
    ? result
    : isRecord(result)
      ? (result.notes ?? result.results ?? result.matches ?? [])
      : []
  const notes: any[] = Array.isArray(list) ? list : []
  if (notes.length === 0) return 'I found no matching notes. Focus on saving one: say "remember that …".'
  const titles = notes
    .slice(0, 5)
    .map((n) => (isRecord(n) ? String(n.title ?? n.name ?? firstWords(text(n.body ?? n.content), 6)) : text(n)))
  const first = notes[0]
  const detail =
    isRecord(first) && (first.body ?? first.content)
      ? ` It says: "${firstWords(text(first.body ?? first.content), 25)}"`
      : ''
  return `I found ${notes.length} note${notes.length === 1 ? '' : 's'}: ${titles.join('; ')}.${detail} Focus on "${titles[0]}", the closest match.`
}

/** The first sentence of a passage, as written (so the server's quote can match it). */
function firstSentence(text: string): string {
  const sentence = text.match(/[^.!?\n]+[.!?]?/)?.[0]?.trim() ?? text.trim()
  return sentence.length > 200 ? `${firstWords(sentence, 30)}` : sentence
}

function summariseDocuments(result: unknown): string {
  const passages: any[] = isRecord(result) && Array.isArray(result.passages) ? result.passages : []
  if (passages.length === 0)
    return 'I found nothing about this in your documents. Focus on uploading the right document on the Documents page.'
  const used = passages.slice(0, 2)
  const lines = used.map((p) => `${firstSentence(text(p.text))}${typeof p.n === 'number' ? ` [${p.n}]` : ''}`)
  const names = [...new Set(used.map((p) => text(p.documentName)))]
  return `From your documents: ${lines.join(' ')} Focus on ${names.join(' and ')} for the details.`
}

function summarisePlan(result: unknown, userText: string): string {
  const raw = isRecord(result)
    ? (result.now ?? result.time ?? result.iso ?? result.datetime ?? result.current_time)
    : result
  const found =
    typeof raw === 'string' ? raw : text(result).match(/\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:?\d{2})?/)?.[0]
  const when = found ? new Date(found) : undefined
  const nowText = when && !Number.isNaN(when.getTime()) ? when.toUTCString() : found || 'now'
  const topic = keywords(userText, 4).filter((w) => !/^(plan|schedule|today|tomorrow|time|day)$/.test(w))
  const subject = topic.length ? topic.join(' ') : 'your most important task'
  return (
    `It is ${nowText}. Here is a simple plan: 1) a 90-minute focus block on ${subject}; ` +
    `2) a short break, then clear messages and small tasks; 3) review what is left and set tomorrow's first step. ` +
    `Focus on starting the first block now, before anything else.`
  )
}

function summariseOther(name: string, result: unknown): string {
  const shown = text(result)
  return `The ${name} tool returned: ${shown.length > 200 ? `${shown.slice(0, 200)}…` : shown}. Focus on what this means for your question, and ask me to dig further.`
}

function summarise(name: string | undefined, content: unknown, messages: Msg[], userText: string): Decision {
  const result = parseJson(content)
  const tool = name ?? 'tool'
  let answer: string
  if (isRecord(result) && typeof result.error === 'string') {
    answer = `The ${tool} tool failed: ${result.error}. Focus on fixing that input and try again.`
  } else if (tool === 'query_dataset') answer = summariseQuery(result)
  else if (tool === 'list_datasets') {
    const names = datasetsFrom(result).map((d) => d.name)
    answer = names.length
      ? `You have ${names.length} dataset(s): ${names.join(', ')}. Focus on ${names[0]} and ask me a question about it.`
      : 'You have no datasets yet. Focus on uploading a CSV first.'
  } else if (tool === 'save_note') {
    const title = noteTitle(result, messages)
    answer = `Saved your note${title ? ` "${title}"` : ''}. Focus on what is next; ask me to search your notes any time.`
  } else if (tool === 'search_notes') answer = summariseSearch(result)
  else if (tool === 'current_time') answer = summarisePlan(result, userText)
  else if (tool === 'search_documents') answer = summariseDocuments(result)
  else if (tool.startsWith('transfer_to_')) {
    const who = tool.slice('transfer_to_'.length).replace(/_/g, ' ')
    answer = `The ${who} is taking over this conversation. Focus on giving them the details of your request.`
  } else answer = summariseOther(tool, result)
  return { thinking: `Looking at the request… the ${tool} result is in, so I will summarise it.`, content: answer }
}

// ---------------------------------------------------------------------------------------------
// Plain answers when no tool applies

function plainAnswer(messages: Msg[], userText: string): Decision {
  const instructions = messages
    .filter((m) => m.role === 'system' || m.role === 'user')
    .map((m) => text(m.content))
    .join('\n')
  if (/\btitle\b/i.test(instructions)) {
    // Title generation: the subject is usually the last line that isn't the instruction itself.
    const lines = instructions
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !/\btitle\b/i.test(l))
    const subject = (lines.at(-1) ?? userText).replace(/^(user|assistant)\s*:\s*/i, '').replace(/["“”]/g, '')
    return {
      thinking: 'Looking at the request… a short title is wanted.',
      content: capitalise(firstWords(subject, 6).replace(/…$/, '')) || 'New chat',
    }
  }
  const quoted = firstWords(userText, 20)
  return {
    thinking: 'Looking at the request… no tools apply, so I will reply directly.',
    content: quoted
      ? `You said: "${quoted}". I am the offline demo model, so my answers are scripted. Focus on asking about your data, notes or plans.`
      : 'Hello! I am the offline demo model. Focus on asking about your data, notes or plans.',
  }
}

// ---------------------------------------------------------------------------------------------

export function decide(req: ChatRequestRecord): Decision {
  const messages = req.messages as Msg[]
  const tools = toolsByName(req)
  const userIdx = lastUserIndex(messages)
  const userText = userIdx >= 0 ? text(messages[userIdx]!.content) : ''
  const last = messages.at(-1)

  if (last?.role === 'tool') {
    const name = toolNameOf(messages, messages.length - 1)
    if (name === 'list_datasets' && tools.has('query_dataset'))
      return queryFromDatasets(parseJson(last.content), userText)
    // After a hand-off the specialist starts working rather than summarising the transfer.
    if (name?.startsWith('transfer_to_')) {
      const next = specialistCall(messages, tools, userText)
      if (next) return next
    }
    return summarise(name, last.content, messages, userText)
  }
  if ([...tools.keys()].some((t) => t.startsWith('transfer_to_'))) return triage(userText, tools)
  return specialistCall(messages, tools, userText) ?? plainAnswer(messages, userText)
}

export function createDemoBrain(opts: DemoBrainOptions = {}): ChatHandler {
  return (req) => {
    const d = decide(req)
    const reply: ContentReply = { thinking: d.thinking, content: d.content ?? '' }
    if (d.toolCalls) reply.toolCalls = d.toolCalls
    if (opts.chunkSize !== undefined) reply.chunkSize = opts.chunkSize
    if (opts.chunkDelayMs !== undefined) reply.chunkDelayMs = opts.chunkDelayMs
    return reply
  }
}

/** The demo brain with the fake's default chunking and no delays (fast for tests). */
export const demoBrain: ChatHandler = createDemoBrain()
