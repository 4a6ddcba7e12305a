// The JSON Schema the playground's endpoints describe games with, as far as its forms read it.

/** The part of JSON Schema (draft-07) @valibot/to-json-schema writes that the forms read. */
export interface JsonSchema {
  type?: string | string[]
  properties?: Record<string, JsonSchema>
  required?: string[]
  additionalProperties?: JsonSchema | boolean
  items?: JsonSchema | JsonSchema[]
  additionalItems?: JsonSchema | boolean
  minItems?: number
  maxItems?: number
  enum?: unknown[]
  const?: unknown
  anyOf?: JsonSchema[]
  oneOf?: JsonSchema[]
  $ref?: string
  $defs?: Record<string, JsonSchema>
  definitions?: Record<string, JsonSchema>
  minimum?: number
  maximum?: number
  minLength?: number
  maxLength?: number
  pattern?: string
  default?: unknown
  description?: string
  title?: string
  "x-unsupported"?: string
}

/** The definition a `$ref` names (a recursive valibot schema refers to itself this way), if the schema has it. */
export function resolveRef(root: JsonSchema, ref: string): JsonSchema | undefined {
  const m = /^#\/(\$defs|definitions)\/(.+)$/.exec(ref)
  if (!m) return undefined
  const name = (m[2] as string).replaceAll("~1", "/").replaceAll("~0", "~")
  const defs = m[1] === "$defs" ? root.$defs : root.definitions
  return defs && Object.hasOwn(defs, name) ? defs[name] : undefined
}
