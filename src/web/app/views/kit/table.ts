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
