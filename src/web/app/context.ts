import type { Api } from '../client/api'
import type { SessionManager } from '../client/session'
import type { ChatSocket } from '../client/socket'
import type { Agent } from '../client/types'

/** What every view of the signed-in app can reach. */
export interface AppContext {
  api: Api
  session: SessionManager
  socket: ChatSocket
  agents: Agent[]
  /** `failed`: the model list could not be had (Ollama down); `error` is the server's hint for the operator. */
  models: { models: string[]; default?: string; failed?: boolean; error?: string }
  agentName(id: string): string
  /** Reloads the thread list in the sidebar (debounced). */
  refreshThreads(): void
  /** Marks a thread as the open one in the sidebar. */
  setCurrentThread(threadId: string | undefined): void
  /** Says something to screen readers through the polite live region. */
  announce(text: string): void
  /** Shows an error toast (also announced). */
  toast(text: string): void
}

export interface View {
  el: HTMLElement
  /** Called when the view leaves the screen. */
  dispose(): void
}
