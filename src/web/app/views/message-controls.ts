/**
 * The small controls under a message: the ‹ 2/3 › switcher between sibling branches, Copy,
 * Edit (user messages), Regenerate or Retry (answers). They act through callbacks, so the chat
 * view decides what sending and switching mean.
 */
import type { Message } from '../../client/types'
import { copyButton } from '../code-blocks'
import { h } from '../dom'

export interface MessageActions {
  /** Show the branch through another version of this message. */
  switchTo(messageId: string): void
  edit?(message: Message, bubble: HTMLElement): void
  regenerate?(message: Message, turn: HTMLElement): void
}

/** "‹ 2 / 3 ›" when the message has siblings; null otherwise. */
export function siblingSwitcher(message: Message, onSwitch: (id: string) => void): HTMLElement | null {
  const siblings = message.siblingIds ?? []
  if (siblings.length < 2) return null
  const index = siblings.indexOf(message.id)
  const go = (delta: number) => () => {
    const next = siblings[index + delta]
    if (next) onSwitch(next)
  }
  const prev = h(
    'button',
    { type: 'button', class: 'icon-btn branch-prev', 'aria-label': 'Previous version', disabled: index <= 0 },
    '‹',
  )
  const next = h(
    'button',
    {
      type: 'button',
      class: 'icon-btn branch-next',
      'aria-label': 'Next version',
      disabled: index >= siblings.length - 1,
    },
    '›',
  )
  prev.addEventListener('click', go(-1))
  next.addEventListener('click', go(1))
  return h(
    'div',
    { class: 'branch-switcher', role: 'group', 'aria-label': `Version ${index + 1} of ${siblings.length}` },
    prev,
    h('span', { class: 'branch-count', 'aria-hidden': 'true' }, `${index + 1} / ${siblings.length}`),
    next,
  )
}

/** Adds the controls to a rendered message (once); returns the row. */
export function decorateMessage(el: HTMLElement, message: Message, actions: MessageActions): HTMLElement {
  el.dataset.messageId = message.id
  el.querySelector(':scope > .message-controls')?.remove()
  const row = h('div', { class: 'message-controls' })
  const switcher = siblingSwitcher(message, actions.switchTo)
  if (switcher) row.append(switcher)
  if (message.role === 'user') {
    if (actions.edit) {
      const edit = h(
        'button',
        { type: 'button', class: 'btn btn-ghost btn-small edit-btn', 'aria-label': 'Edit message' },
        'Edit',
      )
      edit.addEventListener('click', () => actions.edit!(message, el))
      row.append(edit)
    }
  } else if (message.role === 'assistant') {
    if (message.content) row.append(copyButton(() => message.content, 'Copy', 'Copy answer'))
    if (actions.regenerate) {
      const retry = message.status === 'failed' || message.status === 'cancelled'
      const button = h(
        'button',
        {
          type: 'button',
          class: `btn btn-ghost btn-small ${retry ? 'retry-btn' : 'regenerate-btn'}`,
          'aria-label': retry ? 'Retry' : 'Regenerate answer',
        },
        retry ? 'Retry' : 'Regenerate',
      )
      button.addEventListener('click', () => actions.regenerate!(message, el))
      row.append(button)
    }
  }
  el.append(row)
  return row
}

/** An inline editor in place of a user bubble: resolves with the new text, or null when cancelled. */
export function editInPlace(bubble: HTMLElement, text: string): Promise<string | null> {
  return new Promise((resolve) => {
    const saved = [...bubble.childNodes]
    const area = h('textarea', {
      class: 'edit-input',
      rows: '3',
      'aria-label': 'Edit your message',
    }) as HTMLTextAreaElement
    area.value = text
    const save = h('button', { type: 'submit', class: 'btn btn-primary btn-small' }, 'Save and send')
    const cancel = h('button', { type: 'button', class: 'btn btn-small' }, 'Cancel')
    const form = h('form', { class: 'edit-form' }, area, h('div', { class: 'form-actions' }, cancel, save))
    const finish = (value: string | null) => {
      form.remove()
      if (value === null) bubble.replaceChildren(...saved)
      resolve(value)
    }
    form.addEventListener('submit', (e) => {
      e.preventDefault()
      const value = area.value.trim()
      if (value) finish(value)
    })
    cancel.addEventListener('click', () => finish(null))
    area.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') finish(null)
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault()
        form.requestSubmit()
      }
    })
    bubble.replaceChildren(form)
    area.focus()
    area.setSelectionRange(area.value.length, area.value.length)
  })
}
