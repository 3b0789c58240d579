/** A parsed cell (csv.ts's CellValue, spelled out: csv.ts imports this file). */
type CellValue = string | number | null

/**
 * The bytes a dataset's rows take stored, computed before anything is stored. Each row is kept
 * as one JSON object keyed by column name (`dataset_rows.data`), so every row repeats every
 * column name: 100 columns of 200-character names make each row of a 200-byte CSV line about
 * 20 KB. Counted, not serialised, so refusing a huge dataset allocates nothing of its size.
 */
export function storedSize(names: readonly string[], rows: readonly (readonly CellValue[])[]): number {
  // `"name":` per cell, plus the commas between cells and the braces.
  const keys = names.reduce((sum, name) => sum + Buffer.byteLength(JSON.stringify(name)) + 1, 0)
  const perRow = keys + Math.max(0, names.length - 1) + 2
  let total = 0
  for (const row of rows) {
    total += perRow
    for (const value of row) total += valueSize(value)
  }
  return total
}

/** As JSON writes it: `null`, a number (ASCII, one byte a character), or a quoted, escaped string. */
function valueSize(value: CellValue): number {
  if (value === null) return 4
  if (typeof value === 'number') return String(value).length
  return Buffer.byteLength(JSON.stringify(value))
}
