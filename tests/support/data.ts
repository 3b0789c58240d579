/**
 * Shared sample data for the dataset and tool tests: a small sales CSV and the answers a
 * correct query gives over it (worked out by hand, not by the code under test).
 */
export const SALES_CSV = `date,region,product,units,amount
2024-01-05,North,Widget,10,1200.50
2024-01-06,South,Widget,5,600
2024-01-07,North,Gadget,3,450.25
2024-01-09,East,Widget,8,960
2024-01-10,South,Gadget,7,1050
2024-01-12,West,Gizmo,2,199.99
2024-01-15,North,Gizmo,4,399.96
2024-01-18,East,Gadget,6,900
`

export const SALES_COLUMNS = [
  { name: 'date', type: 'text' },
  { name: 'region', type: 'text' },
  { name: 'product', type: 'text' },
  { name: 'units', type: 'number' },
  { name: 'amount', type: 'number' },
] as const

export const SALES_ROW_COUNT = 8

export const SALES_FIRST_ROW = { date: '2024-01-05', region: 'North', product: 'Widget', units: 10, amount: 1200.5 }

/** sum(amount) per region. */
export const SALES_AMOUNT_BY_REGION: Record<string, number> = { East: 1860, North: 2050.71, South: 1650, West: 199.99 }
/** sum(units) per region. */
export const SALES_UNITS_BY_REGION: Record<string, number> = { East: 14, North: 17, South: 12, West: 2 }
/** Rows per region. */
export const SALES_COUNT_BY_REGION: Record<string, number> = { East: 2, North: 3, South: 2, West: 1 }
export const SALES_TOTAL_AMOUNT = 5760.7

/** A second user's data under the same dataset name, with different numbers, to catch leaks. */
export const OTHER_SALES_CSV = `date,region,product,units,amount
2024-02-01,North,Widget,1,1
2024-02-02,Mars,Rocket,1,1000000
`
export const OTHER_SALES_AMOUNT_BY_REGION: Record<string, number> = { Mars: 1000000, North: 1 }

/** A CSV of n rows (for size and chunking tests). */
export function generatedCsv(rows: number, columns = 3): string {
  const header = Array.from({ length: columns }, (_, c) => (c === 0 ? 'id' : `col${c}`)).join(',')
  const lines = [header]
  for (let r = 0; r < rows; r++)
    lines.push(Array.from({ length: columns }, (_, c) => (c === 0 ? r : `${c}-${r % 7}`)).join(','))
  return lines.join('\n') + '\n'
}
