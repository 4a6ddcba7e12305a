import type { Member } from "../cluster/index.ts"

/** A member as GET /cluster lists it: the fields the dev table shows. */
export type MemberRow = Pick<Member, "id" | "url" | "status" | "version" | "sessions" | "up"> & Partial<Pick<Member, "voter">>

/**
 * The rows of `bun run dev`'s table: in port order, and without the nodes a
 * roll replaced (down, and either gone by their own word or their address
 * now served by a live node). A node that died unexpectedly stays, shown
 * down, until it is replaced.
 */
export function devRows(members: readonly MemberRow[]): MemberRow[] {
  const liveUrls = new Set(members.filter((m) => m.up).map((m) => m.url))
  return members
    .filter((m) => m.up || (m.voter !== false && !liveUrls.has(m.url)))
    .sort((a, b) => portOf(a.url) - portOf(b.url) || a.url.localeCompare(b.url) || a.id.localeCompare(b.id))
}

function portOf(url: string): number {
  const port = /:(\d+)(?:\/|$)/.exec(url)?.[1]
  return port === undefined ? 0 : Number(port)
}
