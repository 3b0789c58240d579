/** Pieces of the pages' lists of the user's things (notes, datasets, documents). */
import type { AppContext } from '../../context'
import { h, icon, icons } from '../../dom'

export interface DeleteButtonSpec {
  /** The button's own class, beside `icon-btn` (e.g. `delete-note`). */
  class: string
  /** Its accessible name, naming the item. */
  label: string
  /** Deletes the item and updates the page. */
  remove: () => Promise<void>
  /** Prefixes the failure's message in the toast: `Could not delete the note` → `Could not delete the note: …`. */
  failure: string
  /** Where the failure is shown. */
  ctx: Pick<AppContext, 'toast'>
}

/** A trash-can button that deletes one item: disabled while it works, back with a toast if it fails. */
export function deleteButton(spec: DeleteButtonSpec): HTMLButtonElement {
  const button = h(
    'button',
    { type: 'button', class: `icon-btn ${spec.class}`, 'aria-label': spec.label, title: 'Delete' },
    icon(icons.trash),
  )
  button.addEventListener('click', async () => {
    button.disabled = true
    try {
      await spec.remove()
    } catch (err) {
      button.disabled = false
      spec.ctx.toast(`${spec.failure}: ${(err as Error).message}`)
    }
  })
  return button
}

/** Focuses the first of `candidates` that exists: after a delete, the next item or else the form. */
export function focusFirst(...candidates: (HTMLElement | null)[]): void {
  candidates.find((c) => c !== null)?.focus()
}

/** "Load more" under a paged list: hidden until a page says more follow. */
export function loadMoreButton(load: () => Promise<void>): HTMLButtonElement {
  const button = h('button', { type: 'button', class: 'btn btn-secondary load-more', hidden: true }, 'Load more')
  button.addEventListener('click', () => void load())
  return button
}
