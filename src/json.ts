/**
 * JSON the way Go's json.Encoder writes it (factory-spec §1.4): compact, HTML-escaped
 * (`<` `>` `&` as \u003c \u003e \u0026, U+2028/2029 escaped) and one trailing newline. Clients
 * that compare bytes with the reference see the same bytes.
 */
export function goJson(value: unknown): string {
  return `${JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}\n`
}
