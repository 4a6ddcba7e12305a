// Form controls built from a JSON Schema (what GET /playground/games describes a game's valibot schemas as).
// They only shape and parse what is typed: the node checks every value against the valibot schema itself.
import { el } from "./dom.ts"
import { type JsonSchema, resolveRef } from "./json-schema.ts"

/** What a control holds: a value (undefined: left out), or why it holds none. */
export type Read = { ok: true; value: unknown } | { ok: false; error: string }

/** A control for one value. */
export interface Field {
  el: HTMLElement
  read(): Read
}

interface Ctx {
  root: JsonSchema
  /** The value's place, e.g. "moves.0.to" ("" for the whole value): its control's name, and what an error names. */
  path: string
  depth: number
}

/** A lazy schema refers to itself: past this depth, JSON. */
const MAX_DEPTH = 8

/** The control for a whole value described by `schema`. */
export function formFor(schema: JsonSchema): Field {
  return fieldFor(schema, { root: schema, path: "", depth: 0 })
}

function fieldFor(schema: JsonSchema, ctx: Ctx): Field {
  if (ctx.depth > MAX_DEPTH) return jsonField(ctx, "nested too deep for a form: write it as JSON")
  if (schema.$ref) {
    const target = resolveRef(ctx.root, schema.$ref)
    return target ? fieldFor(target, { ...ctx, depth: ctx.depth + 1 }) : jsonField(ctx, `unresolved ${schema.$ref}`)
  }
  if (schema["x-unsupported"]) return jsonField(ctx, schema["x-unsupported"])
  if ("const" in schema) return constField(schema.const)
  if (schema.enum) return choiceField(schema.enum, schema.default, ctx)
  const options = schema.anyOf ?? schema.oneOf
  if (options) {
    if (options.every((o) => "const" in o)) return choiceField(options.map((o) => o.const), schema.default, ctx)
    const inner = options.filter((o) => o.type !== "null")
    if (inner.length === 1 && options.length === 2) return nullableField(inner[0] as JsonSchema, ctx)
    return unionField(options, ctx)
  }
  switch (schema.type) {
    case "boolean":
      return booleanField(schema, ctx)
    case "number":
    case "integer":
      return numberField(schema, ctx)
    case "string":
      return stringField(schema, ctx)
    case "null":
      return constField(null)
    case "array":
      if (Array.isArray(schema.items)) return tupleField(schema.items, ctx)
      if (schema.items) return listField(schema.items, schema.minItems ?? 0, ctx)
      return jsonField(ctx, "an array")
    case "object":
      if (schema.properties && (Object.keys(schema.properties).length > 0 || !schema.additionalProperties)) return objectField(schema, ctx)
      return jsonField(ctx, "an object (a record: write it as JSON)")
  }
  return jsonField(ctx, schema.description ?? "any JSON value")
}

const ok = (value: unknown): Read => ({ ok: true, value })
const bad = (ctx: Ctx, error: string): Read => ({ ok: false, error: ctx.path ? `${ctx.path}: ${error}` : error })
/** A control's name: its path, "value" for the whole value. */
const nameOf = (ctx: Ctx, suffix = "") => (ctx.path || "value") + suffix
/** The place of a part of the value: a property's key, an item's index. */
const child = (ctx: Ctx, key: string | number): Ctx => ({ ...ctx, path: ctx.path ? `${ctx.path}.${key}` : String(key), depth: ctx.depth + 1 })

function constField(value: unknown): Field {
  return { el: el("code", "const", JSON.stringify(value)), read: () => ok(value) }
}

function choiceField(values: unknown[], fallback: unknown, ctx: Ctx): Field {
  const select = el("select")
  select.name = nameOf(ctx)
  values.forEach((value, i) => {
    const option = el("option", "", typeof value === "string" ? value : JSON.stringify(value))
    option.value = String(i)
    if (JSON.stringify(value) === JSON.stringify(fallback)) option.selected = true
    select.append(option)
  })
  return { el: select, read: () => ok(values[Number(select.value)]) }
}

function booleanField(schema: JsonSchema, ctx: Ctx): Field {
  const box = el("input")
  box.type = "checkbox"
  box.name = nameOf(ctx)
  box.checked = schema.default === true
  return { el: box, read: () => ok(box.checked) }
}

function numberField(schema: JsonSchema, ctx: Ctx): Field {
  const input = el("input")
  input.type = "number"
  input.name = nameOf(ctx)
  input.step = schema.type === "integer" ? "1" : "any"
  if (schema.minimum !== undefined) input.min = String(schema.minimum)
  if (schema.maximum !== undefined) input.max = String(schema.maximum)
  if (typeof schema.default === "number") input.value = String(schema.default)
  input.placeholder = range(schema)
  return {
    el: input,
    read: () => {
      if (input.value.trim() === "") return bad(ctx, "enter a number")
      const n = Number(input.value)
      return Number.isFinite(n) ? ok(n) : bad(ctx, `${JSON.stringify(input.value)} is not a number`)
    },
  }
}

/** "integer 1–3": what a number field takes, as a hint. */
function range(schema: JsonSchema): string {
  const kind = schema.type === "integer" ? "integer" : "number"
  if (schema.minimum !== undefined && schema.maximum !== undefined) return `${kind} ${schema.minimum}–${schema.maximum}`
  if (schema.minimum !== undefined) return `${kind} ≥ ${schema.minimum}`
  if (schema.maximum !== undefined) return `${kind} ≤ ${schema.maximum}`
  return kind
}

function stringField(schema: JsonSchema, ctx: Ctx): Field {
  const input = el("input")
  input.name = nameOf(ctx)
  if (schema.pattern) input.title = `matches ${schema.pattern}`
  if (typeof schema.default === "string") input.value = schema.default
  input.placeholder = `text${schema.minLength !== undefined ? `, at least ${schema.minLength}` : ""}${schema.maxLength !== undefined ? `, at most ${schema.maxLength}` : ""}`
  return { el: input, read: () => ok(input.value) }
}

/** A JSON textarea: what the forms cannot render. Empty is "left out"; anything else must parse. */
function jsonField(ctx: Ctx, hint: string): Field {
  const area = el("textarea", "json")
  area.name = nameOf(ctx)
  area.rows = 2
  area.placeholder = `JSON: ${hint}`
  area.spellcheck = false
  return {
    el: area,
    read: () => {
      if (area.value.trim() === "") return ok(undefined)
      try {
        return ok(JSON.parse(area.value))
      } catch (error) {
        return bad(ctx, `not JSON (${(error as Error).message})`)
      }
    },
  }
}

function nullableField(inner: JsonSchema, ctx: Ctx): Field {
  const box = el("div", "nullable")
  const label = el("label", "null")
  const isNull = el("input")
  isNull.type = "checkbox"
  isNull.name = nameOf(ctx, ":null")
  label.append(isNull, " null")
  const holder = el("fieldset", "plain")
  const field = fieldFor(inner, { ...ctx, depth: ctx.depth + 1 })
  holder.append(field.el)
  isNull.onchange = () => (holder.disabled = isNull.checked)
  box.append(holder, label)
  return { el: box, read: () => (isNull.checked ? ok(null) : field.read()) }
}

/** A union: pick the option, then fill it in. */
function unionField(options: JsonSchema[], ctx: Ctx): Field {
  const box = el("div", "union")
  const select = el("select")
  select.name = nameOf(ctx, ":option")
  options.forEach((o, i) => {
    const option = el("option", "", optionLabel(o, i))
    option.value = String(i)
    select.append(option)
  })
  const holder = el("div", "option")
  let field = fieldFor(options[0] as JsonSchema, { ...ctx, depth: ctx.depth + 1 })
  holder.append(field.el)
  select.onchange = () => {
    field = fieldFor(options[Number(select.value)] as JsonSchema, { ...ctx, depth: ctx.depth + 1 })
    holder.replaceChildren(field.el)
  }
  box.append(select, holder)
  return { el: box, read: () => field.read() }
}

/** An option's name in a union: its tag (a property fixed to a constant), else its title or type. */
function optionLabel(o: JsonSchema, i: number): string {
  for (const [key, p] of Object.entries(o.properties ?? {})) if ("const" in p) return `${key}: ${JSON.stringify(p.const)}`
  if (o.title) return o.title
  if ("const" in o) return JSON.stringify(o.const)
  if (o.enum) return o.enum.map((v) => JSON.stringify(v)).join(" | ")
  if (typeof o.type === "string") return o.type
  return `option ${i + 1}`
}

function objectField(schema: JsonSchema, ctx: Ctx): Field {
  const box = el("div", "object")
  const required = new Set(schema.required ?? [])
  const entries: { key: string; field: Field; included: () => boolean }[] = []
  for (const [key, property] of Object.entries(schema.properties ?? {})) {
    const at = child(ctx, key)
    const row = el("div", "row")
    const label = el("label", "key", key)
    const field = fieldFor(property, at)
    if (required.has(key)) {
      row.append(label, field.el)
      entries.push({ key, field, included: () => true })
    } else {
      // Left out unless ticked: the schema's default (if any) is the node's to apply.
      const include = el("input")
      include.type = "checkbox"
      include.name = nameOf(at, ":include")
      include.title = `send ${key} (optional${property.default !== undefined ? `, default ${JSON.stringify(property.default)}` : ""})`
      const holder = el("fieldset", "plain")
      holder.disabled = true
      holder.append(field.el)
      include.onchange = () => (holder.disabled = !include.checked)
      label.prepend(include)
      label.append(el("span", "optional", "optional"))
      row.append(label, holder)
      entries.push({ key, field, included: () => include.checked })
    }
    box.append(row)
  }
  if (entries.length === 0) box.append(el("span", "empty", "no fields"))
  return {
    el: box,
    read: () => {
      const out: Record<string, unknown> = Object.create(null)
      for (const e of entries) {
        if (!e.included()) continue
        const r = e.field.read()
        if (!r.ok) return r
        if (r.value !== undefined) out[e.key] = r.value
      }
      return ok(out)
    },
  }
}

function tupleField(items: JsonSchema[], ctx: Ctx): Field {
  const box = el("div", "tuple")
  const fields = items.map((item, i) => fieldFor(item, child(ctx, i)))
  for (const f of fields) box.append(f.el)
  return { el: box, read: () => collect(fields) }
}

function listField(item: JsonSchema, min: number, ctx: Ctx): Field {
  const box = el("div", "list")
  const rows = el("div", "items")
  const add = el("button", "add", "+ add")
  add.type = "button"
  add.name = nameOf(ctx, ":add")
  const fields: Field[] = []
  let made = 0
  const append = () => {
    const row = el("div", "item")
    const field = fieldFor(item, child(ctx, made++))
    const remove = el("button", "remove", "×")
    remove.type = "button"
    remove.title = "remove"
    remove.onclick = () => {
      fields.splice(fields.indexOf(field), 1)
      row.remove()
    }
    row.append(field.el, remove)
    rows.append(row)
    fields.push(field)
  }
  for (let i = 0; i < min; i++) append()
  add.onclick = append
  box.append(rows, add)
  return { el: box, read: () => collect(fields) }
}

function collect(fields: Field[]): Read {
  const out: unknown[] = []
  for (const f of fields) {
    const r = f.read()
    if (!r.ok) return r
    out.push(r.value)
  }
  return ok(out)
}
