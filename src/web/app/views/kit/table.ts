/** Data tables as the app's pages show them. */
import { h } from '../../dom'

/** The column headings of a data table. */
export function tableHead(columns: string[]): HTMLTableSectionElement {
  return h('thead', null, h('tr', null, ...columns.map((c) => h('th', { scope: 'col' }, c))))
}

/** A data table in its scrolling wrapper: headings, then `body` (which the page fills). */
export function dataTable(tableClass: string, columns: string[], body: HTMLTableSectionElement): HTMLDivElement {
  return h('div', { class: 'table-wrap' }, h('table', { class: `data-table ${tableClass}` }, tableHead(columns), body))
}

/** How a table body shows a value: its text, and whether it is a number (right-aligned). */
export interface CellFormat {
  text: (value: unknown) => string
  numeric: (value: unknown, column: number) => boolean
}

/**
 * The body of a data table: a row per item of `rows`, a cell per column. Rows come as arrays
 * (by position) or as objects keyed by column name.
 */
export function tableBody(rows: unknown[], columns: string[], format: CellFormat): HTMLTableSectionElement {
  const cellValue = (row: unknown, i: number) =>
    Array.isArray(row) ? row[i] : (row as Record<string, unknown>)?.[columns[i]!]
  return h(
    'tbody',
    null,
    rows.map((row) =>
      h(
        'tr',
        null,
        columns.map((_, i) => {
          const value = cellValue(row, i)
          return h('td', { class: format.numeric(value, i) ? 'num' : undefined }, format.text(value))
        }),
      ),
    ),
  )
}
