// What the dashboard's parts share: element lookup, HTML escaping, and requests that carry the admin token.

export const $ = <T extends HTMLElement>(sel: string) => document.querySelector(sel) as T
export const esc = (s: unknown) => String(s ?? "").replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`)

// On the players' port the views take the admin token: open /dashboard#token=<BATON_ADMIN_TOKEN>
// (a URL fragment is never sent to a server, so it lands in no access log). The admin port needs none.
export const hashParams = () => new URLSearchParams(location.hash.slice(1))
const token = hashParams().get("token")
const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {}

/** GET `path` of the node that served the page; a refusal or an error answer throws with its message. */
export async function fetchOk(path: string): Promise<Response> {
  const res = await fetch(path, { cache: "no-store", headers })
  if (res.status === 401) throw new Error("this port shows the cluster to operators only: use the admin port, or open /dashboard#token=<BATON_ADMIN_TOKEN>")
  if (!res.ok) {
    const body = (await res.json().catch(() => null)) as { error?: { message?: string } } | null
    throw new Error(`${path}: HTTP ${res.status}${body?.error?.message ? `: ${body.error.message}` : ""}`)
  }
  return res
}

export async function get<T>(path: string): Promise<T> {
  return (await (await fetchOk(path)).json()) as T
}
