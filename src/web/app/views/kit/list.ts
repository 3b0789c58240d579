/** Pieces of the pages' lists of the user's things (notes, datasets, documents). */
import type { AppContext } from '../../context'
import { h, icon, icons } from '../../dom'

/**
 * A trash-can button that deletes one item (a `noun` named `name`): disabled while `remove`
 * deletes it and updates the page, back with a toast if that fails.
 */
export function deleteButton(
  ctx: Pick<AppContext, 'toast'>,
  noun: string,
  name: string,
  remove: () => Promise<void>,
): HTMLButtonElement {
  const button = h(
    'button',
    { type: 'button', class: `icon-btn delete-${noun}`, 'aria-label': `Delete ${noun} “${name}”`, title: 'Delete' },
    icon(icons.trash),
  )
  button.addEventListener('click', async () => {
    button.disabled = true
    try {
      await remove()
    } catch (err) {
      button.disabled = false
      ctx.toast(`Could not delete the ${noun}: ${(err as Error).message}`)
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
