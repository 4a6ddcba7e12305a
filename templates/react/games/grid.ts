/**
 * The grid of connect four: its size, its discs and where four line up.
 * Plain functions with no imports, shared by the game module and the page
 * (which imports the game module itself as a type only, so no server code
 * reaches the browser).
 */

export const COLUMNS = 7
export const ROWS = 6

/** The first to sit plays red and starts. */
export const DISCS = ["red", "yellow"] as const
export type Disc = (typeof DISCS)[number]

/** Which disc a player drops, by their place in the seat order (null: not seated). */
export function discOf(order: readonly string[], player: string): Disc | null {
  return DISCS[order.indexOf(player)] ?? null
}

/** The lowest free row of a column, or -1 when it is full. Cells go row by row from the top: row * COLUMNS + column. */
export function freeRow(grid: readonly (Disc | null)[], column: number): number {
  for (let row = ROWS - 1; row >= 0; row--) if (grid[row * COLUMNS + column] === null) return row
  return -1
}

/** The four (or more) cells in a line through `cell` that hold its disc, or [] when there are fewer than four. */
export function lineThrough(grid: readonly (Disc | null)[], cell: number): number[] {
  const disc = grid[cell]
  if (!disc) return []
  const row = Math.floor(cell / COLUMNS)
  const col = cell % COLUMNS
  for (const [dr, dc] of [
    [0, 1],
    [1, 0],
    [1, 1],
    [1, -1],
  ] as const) {
    const line = [cell]
    for (const sign of [1, -1]) {
      for (let r = row + sign * dr, c = col + sign * dc; r >= 0 && r < ROWS && c >= 0 && c < COLUMNS; r += sign * dr, c += sign * dc) {
        if (grid[r * COLUMNS + c] !== disc) break
        line.push(r * COLUMNS + c)
      }
    }
    if (line.length >= 4) return line.sort((a, b) => a - b)
  }
  return []
}
