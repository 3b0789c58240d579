/** A data table the server fills a page at a time (the admin pages' accounts and audit log). */
import type { Child } from '../../dom'
import { h } from '../../dom'
import { loadMoreButton } from './list'
import { loadReporting, statusLine } from './page'
import { dataTable } from './table'

export interface PagedTableSpec<Item> {
  /** The table's own class, beside `data-table`. */
  class: string
  columns: string[]
  /** What it lists, for the status line: `Could not load the accounts: …`. */
  what: string
  /** The status line when there are no rows at all. */
  empty: string
  /** One page from `cursor` (null: the first). */
  fetch: (cursor: string | null) => Promise<{ items: Item[]; nextCursor: string | null }>
  row: (item: Item) => HTMLTableRowElement
}

/** The table, its status line, and "Load more" under it while the server says more follow. */
export class PagedTable<Item> {
  readonly rows = h('tbody')
  readonly status = statusLine()
  readonly more = loadMoreButton(() => this.load())
  #cursor: string | null = null
  /** Bumped by each restart: an answer for an older start (other filters) is dropped, not shown. */
  #generation = 0

  constructor(private readonly spec: PagedTableSpec<Item>) {}

  /** What the page shows, in order: the table, the status line, the button. */
  parts(): Child[] {
    return [dataTable(this.spec.class, this.spec.columns, this.rows), this.status, this.more]
  }

  /** Appends the next page (the first, after a restart). */
  async load(): Promise<void> {
    const generation = this.#generation
    await loadReporting(this.status, this.spec.what, async () => {
      const page = await this.spec.fetch(this.#cursor)
      if (generation !== this.#generation) return
      for (const item of page.items) this.rows.append(this.spec.row(item))
      this.#cursor = page.nextCursor
      this.more.hidden = !page.nextCursor
      this.status.textContent = this.rows.children.length ? '' : this.spec.empty
    })
  }

  /** Starts again from the first page (after a filter changes, or a row is added). */
  restart(): Promise<void> {
    this.#generation++
    this.#cursor = null
    this.rows.replaceChildren()
    return this.load()
  }
}
