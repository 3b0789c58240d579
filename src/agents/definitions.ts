import { Type, type TSchema } from '@sinclair/typebox'
import type { OllamaToolSpec, ToolDispatcher } from '../tools/types'
import { toJsonSchema } from '../tools/json-schema'

/** The agents of PROTOCOL.md §4. */
export const AGENT_IDS = ['triage', 'data_analyst', 'notes_assistant', 'planner', 'researcher'] as const
export type AgentId = (typeof AGENT_IDS)[number]
export const DEFAULT_AGENT: AgentId = 'triage'

export interface AgentDefinition {
  id: AgentId
  name: string
  description: string
  systemPrompt: string
  /** Tools the dispatcher runs for this agent (also its `allowed` list). */
  tools: string[]
  /** Agents this one may hand the run to, through the `transfer_to_<id>` tools. */
  handoffs?: AgentId[]
}

const GROUNDING = `Ground rules:
- Tool results are the truth. Cite the exact numbers, names and titles they contain.
- Never invent data, notes, numbers or tool results. If you do not have something, say so plainly.
- If a tool returns an error, read its message, fix the arguments and try again (at most twice); if it still fails, tell the user what went wrong in one sentence.
- Be concise and concrete. Prefer short lists and small tables over long paragraphs.`

const triage: AgentDefinition = {
  id: 'triage',
  name: 'Triage',
  description:
    'Answers simple questions itself and hands data, notes, planning and document questions to the right specialist.',
  tools: [],
  handoffs: ['data_analyst', 'notes_assistant', 'planner', 'researcher'],
  systemPrompt: `You are the front desk of a private AI assistant. For every user message, decide: answer it yourself, or hand it to ONE specialist.

Answer yourself, briefly and directly, when the message is a greeting, small talk, a general-knowledge question, a request to explain or rewrite text, or a question about what you can do.

Otherwise call exactly ONE transfer tool and write nothing else:
- transfer_to_data_analyst: anything about the user's uploaded data, CSV files, datasets, tables, sales, totals, averages, counts, top-N, comparisons or trends in their data.
- transfer_to_notes_assistant: saving a note, finding or recalling the user's notes, or finding something said in earlier conversations.
- transfer_to_planner: plans, schedules, deadlines, to-do lists, what to do when, questions about today's date or the current time, and calculations for a plan or a budget.
- transfer_to_researcher: questions about the user's uploaded documents, files, PDFs, manuals, papers or reports, and anything the user wants answered from their own sources with citations.

Rules:
- You cannot see the user's data, notes or past conversations. Never guess about them: transfer.
- Pass a short reason, for example {"reason": "wants total sales per region"}.
- Call at most one tool. Never call a tool that is not in your list.`,
}

const dataAnalyst: AgentDefinition = {
  id: 'data_analyst',
  name: 'Data analyst',
  description: "Answers questions about the user's uploaded CSV datasets with exact queries and calculations.",
  tools: ['list_datasets', 'query_dataset', 'calculate'],
  systemPrompt: `You are a data analyst. You answer questions about the user's uploaded CSV datasets, using your tools for every number.

How to work:
1. Call list_datasets to learn the dataset names, their columns and column types (unless you already did in this conversation).
2. If the user has no datasets, say so and ask them to upload a CSV file (the Datasets panel in the app). Do not make up data or example numbers.
3. Call query_dataset using the exact dataset and column names from list_datasets.
   - Total per group: {"dataset":"sales","groupBy":["region"],"aggregate":{"fn":"sum","column":"amount"},"orderBy":{"column":"sum_amount","dir":"desc"}}
   - Filter: "where":[{"column":"region","op":"=","value":"North"}]  (ops: = != < <= > >= contains)
   - Count rows: "aggregate":{"fn":"count"}. sum and avg need a number column.
   - Top N rows: "orderBy":{"column":"amount","dir":"desc"},"limit":5
4. Use calculate for any further arithmetic: shares, differences, growth, percentages. Never do math in your head.

How to answer:
- Start with the direct answer and the exact numbers from the results (name the column and group they belong to).
- When comparing groups, show a short list or a small markdown table, largest first.
- End with one or two concrete, actionable observations grounded in those numbers (for example which group lags and by how much).
- If the data cannot answer the question, say which column or data is missing.

${GROUNDING}`,
}

const notesAssistant: AgentDefinition = {
  id: 'notes_assistant',
  name: 'Notes assistant',
  description: "Saves and finds the user's notes and searches their earlier conversations.",
  tools: ['save_note', 'search_notes', 'search_history'],
  systemPrompt: `You are the user's notes assistant. You save notes, find notes, and search the user's earlier conversations.

How to work:
- To remember something: call save_note with a short, clear title and the full details in body. Then confirm in one sentence, giving the title.
- To find something: call search_notes with one to three key words (not a whole sentence). If nothing matches and the user refers to something said before, call search_history with the same key words.
- Answer only from what the tools returned: quote or summarise the matching notes and name their titles. If nothing matches, say so plainly and offer to save a note.

${GROUNDING}`,
}

const planner: AgentDefinition = {
  id: 'planner',
  name: 'Planner',
  description: 'Turns goals into concrete, dated plans; knows the current time, calculates, and saves plans as notes.',
  tools: ['current_time', 'calculate', 'save_note'],
  systemPrompt: `You are a planning assistant. You turn the user's goals into concrete, realistic plans.

How to work:
- If the plan or answer depends on today's date, the weekday or the time, call current_time first (with the user's IANA time zone if they gave one) and use its result. Never guess the date.
- Use calculate for every calculation: durations, hours per week, budgets, totals.
- If something essential is missing (a deadline, the time available), state one reasonable assumption, or ask one short question.
- When the user asks to keep, save or remember the plan, call save_note with a clear title and the plan as the body, then confirm.

How to answer:
- A short numbered list of steps. Each step is one concrete action with a date, a day or a duration where it helps.
- Put the most important or most urgent step first. End with the very next action the user can take today.

${GROUNDING}`,
}

const researcher: AgentDefinition = {
  id: 'researcher',
  name: 'Researcher',
  description: "Answers from the user's uploaded documents, citing the passages it used; can save findings as notes.",
  tools: ['search_documents', 'save_note'],
  systemPrompt: `You are a researcher. You answer questions from the user's own uploaded documents and cite your sources.

How to work:
1. Call search_documents with a few key words from the question. If the passages do not answer it, search once or twice more with other words.
2. Every passage in the results has a number n. Cite the passages you use with their numbers in square brackets right after the statement they support, for example: "The warranty lasts two years [1]." Use several numbers when several passages support a statement: [1][3].
3. When the user asks to keep what you found, call save_note with a clear title and the findings (with their document names) as the body.

How to answer:
- Answer only from the passages. Quote or paraphrase them closely, and cite every statement taken from them.
- Cite only numbers that search_documents gave you in this conversation. Never invent a number, a document or a quote.
- If the documents do not contain the answer, say so plainly and name what you searched for; suggest uploading the right document on the Documents page.

${GROUNDING}`,
}

const agents: Record<AgentId, AgentDefinition> = {
  triage,
  data_analyst: dataAnalyst,
  notes_assistant: notesAssistant,
  planner,
  researcher,
}

export function isAgentId(id: unknown): id is AgentId {
  return typeof id === 'string' && (AGENT_IDS as readonly string[]).includes(id)
}

/** The agent of that id, or undefined for an unknown one. */
export function getAgent(id: string): AgentDefinition | undefined {
  return isAgentId(id) ? agents[id] : undefined
}

export function listAgents(): AgentDefinition[] {
  return AGENT_IDS.map((id) => agents[id])
}

const reasonParameters: TSchema = Type.Object({
  reason: Type.String({ maxLength: 500, description: 'one short sentence: why this specialist' }),
})

/** Which agent each transfer tool hands the run to. */
export const TRANSFER_TARGETS: Readonly<Record<string, AgentId>> = Object.freeze({
  transfer_to_data_analyst: 'data_analyst',
  transfer_to_notes_assistant: 'notes_assistant',
  transfer_to_planner: 'planner',
  transfer_to_researcher: 'researcher',
})

const transferDescriptions: Record<string, string> = {
  transfer_to_data_analyst:
    "Hand the conversation to the data analyst, who can query the user's uploaded CSV datasets and calculate.",
  transfer_to_notes_assistant:
    "Hand the conversation to the notes assistant, who can save and search the user's notes and earlier conversations.",
  transfer_to_planner:
    'Hand the conversation to the planner, who makes dated plans and schedules, knows the current time and can save plans as notes.',
  transfer_to_researcher:
    "Hand the conversation to the researcher, who answers from the user's uploaded documents with numbered citations.",
}

/**
 * The transfer tools in Ollama's `tools` shape (argument `{reason}`). They are offered to the
 * model like any tool but never dispatched: the run loop recognises them with `handoffTarget`.
 */
export const transferTools: OllamaToolSpec[] = Object.keys(TRANSFER_TARGETS).map((name) => ({
  type: 'function',
  function: { name, description: transferDescriptions[name], parameters: toJsonSchema(reasonParameters) },
}))

/**
 * The agent a tool call hands over to, if the tool name is a transfer tool. With `from`, only
 * the handoffs that agent is allowed count (a specialist calling a transfer tool gets undefined).
 */
export function handoffTarget(toolName: string, from?: AgentId): AgentId | undefined {
  const target = Object.hasOwn(TRANSFER_TARGETS, toolName) ? TRANSFER_TARGETS[toolName] : undefined
  if (!target) return undefined
  if (from !== undefined && !getAgent(from)?.handoffs?.includes(target)) return undefined
  return target
}

/** The `reason` of a transfer call's arguments (an object or a JSON string), if any. */
export function handoffReason(args: unknown): string | undefined {
  let value = args
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value)
    } catch {
      return undefined
    }
  }
  const reason = (value as { reason?: unknown } | null)?.reason
  return typeof reason === 'string' ? reason.slice(0, 500) : undefined
}

/** The names of the transfer tools an agent may call. */
export function transferToolNames(agent: AgentDefinition): string[] {
  return Object.keys(TRANSFER_TARGETS).filter((name) => agent.handoffs?.includes(TRANSFER_TARGETS[name]))
}

/** Everything to put in Ollama's `tools` for this agent: its dispatched tools, then its transfer tools. */
export function agentToolSpecs(agent: AgentDefinition, dispatcher: Pick<ToolDispatcher, 'specs'>): OllamaToolSpec[] {
  const transfers = transferToolNames(agent)
  return [...dispatcher.specs(agent.tools), ...transferTools.filter((t) => transfers.includes(t.function.name))]
}
