/**
 * Load errors in the reference's format (`go-yaml load error in <stage> at L<line>.C<col>: …`).
 * The reference aborts decoding on these (it panics internally) instead of collecting them like
 * construct errors, so they are thrown.
 */
export class FatalLoad extends Error {}

export function fatal(stage: string, line: number, col: number, message: string): FatalLoad {
  const where = line > 0 ? (col > 0 ? `L${line}.C${col}` : `L${line}`) : '<unknown position>'
  return new FatalLoad(`go-yaml load error in ${stage} at ${where}: ${message}`)
}

/** First line of a library message, without its trailing position and control characters. */
export function oneLine(msg: string): string {
  const first = (msg.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '').trim()
  return first.replace(/[\u0000-\u001f\u007f]/g, ' ')
}
