/**
 * A linear pre-scan of the text before the YAML library sees it: one pass over the characters,
 * no allocation per character, so a body far over a limit (400 000 nested brackets, a megabyte of
 * one-character list items) is refused in a few milliseconds instead of after the library's much
 * slower lexing.
 *
 * It approximates YAML's lexical structure (quotes, comments, block scalars, flow and block
 * collections) without parsing. Its counts can be off in odd places, so it is not the guarantee:
 * the exact limits are checked again on the library's own tokens (./compose.ts). What matters
 * here is that it never counts more than a real document contains by enough to refuse one that
 * is within the limits, and that the common hostile shapes are caught early.
 */
import { countError, depthError, type Mark, type ParseLimits } from './limits.ts'

const LF = 0x0a
const CR = 0x0d
const SPACE = 0x20
const TAB = 0x09

const isBlankOrEnd = (c: number): boolean => c === SPACE || c === TAB || c === LF || c === CR || Number.isNaN(c)
const isFlowIndicator = (c: number): boolean => c === 0x2c || c === 0x5b || c === 0x5d || c === 0x7b || c === 0x7d

export function prescan(text: string, limits: ParseLimits): void {
  const n = text.length
  let i = 0
  let line = 1
  let lineStart = 0
  let flow = 0
  let nodes = 0
  let anchors = 0
  let aliases = 0
  let contentSeen = false
  let nodeStart = true
  /** Columns where block nodes start, strictly increasing: the block nesting so far. */
  const indents: number[] = []
  /** While skipping a block scalar's content: the column its lines must be indented beyond. */
  let blockScalarParent = -2

  const mark = (at: number): Mark => ({ line, col: at - lineStart + 1 })
  const node = (at: number): void => {
    if (++nodes > limits.maxNodes) throw countError('nodes', limits.maxNodes, mark(at))
  }
  const pushIndent = (col: number, at: number): void => {
    while (indents.length > 0 && (indents[indents.length - 1] as number) > col) indents.pop()
    if (indents.length === 0 || (indents[indents.length - 1] as number) < col) indents.push(col)
    if (indents.length + flow > limits.maxDepth) throw depthError(limits, mark(at), 'indent')
  }
  /** Skips a quoted scalar starting at `i`; returns the index after it (newlines counted). */
  const skipQuoted = (start: number, quote: number): number => {
    let k = start + 1
    while (k < n) {
      const c = text.charCodeAt(k)
      if (c === quote) {
        if (quote === 0x27 && text.charCodeAt(k + 1) === 0x27) {
          k += 2
          continue
        }
        return k + 1
      }
      if (c === 0x5c && quote === 0x22) {
        k += 2
        continue
      }
      if (c === LF) {
        line++
        lineStart = k + 1
      }
      k++
    }
    return k
  }
  const skipName = (start: number): number => {
    let k = start + 1
    while (k < n) {
      const c = text.charCodeAt(k)
      if (isBlankOrEnd(c) || isFlowIndicator(c)) break
      k++
    }
    return k
  }

  while (i < n) {
    // ---- start of a line
    let k = i
    while (k < n && text.charCodeAt(k) === SPACE) k++
    const indent = k - i
    while (k < n && text.charCodeAt(k) === TAB) k++
    let c = text.charCodeAt(k)
    const blank = k >= n || c === LF || c === CR
    if (blockScalarParent >= -1) {
      if (blank || indent > blockScalarParent) {
        i = nextLine(text, k)
        line++
        lineStart = i
        continue
      }
      blockScalarParent = -2
    }
    if (blank || (c === 0x23 && flow === 0)) {
      i = nextLine(text, k)
      line++
      lineStart = i
      continue
    }
    // Document markers: the reference reads the first document only.
    if (indent === 0 && (c === 0x2d || c === 0x2e) && text.charCodeAt(k + 1) === c && text.charCodeAt(k + 2) === c && isBlankOrEnd(text.charCodeAt(k + 3))) {
      if (c === 0x2e || contentSeen) return
      k += 3
      flow = 0
      indents.length = 0
    } else if (flow === 0) {
      pushIndent(indent, k)
    }

    // ---- the rest of the line (in a flow collection a line break is only white space)
    if (flow === 0) nodeStart = true
    let afterSpace = true
    /** Column of the last block node started on this line (a block scalar's parent indentation). */
    let lastBlockStart = flow === 0 ? indent : -1
    while (k < n) {
      c = text.charCodeAt(k)
      if (c === LF || c === CR) break
      if (c === SPACE || c === TAB) {
        afterSpace = true
        k++
        continue
      }
      contentSeen = true
      const col = k - lineStart
      if (c === 0x23 && afterSpace) {
        // a comment runs to the end of the line
        while (k < n && text.charCodeAt(k) !== LF) k++
        break
      }
      afterSpace = false
      if (c === 0x5b || c === 0x7b) {
        if (flow > 0 || nodeStart) {
          flow++
          node(k)
          if (indents.length + flow > limits.maxDepth) throw depthError(limits, mark(k), 'flow')
          nodeStart = true
          k++
          continue
        }
      } else if (c === 0x5d || c === 0x7d) {
        if (flow > 0) {
          flow--
          nodeStart = false
          k++
          continue
        }
      } else if (c === 0x2c && flow > 0) {
        // entries are counted by their separators too: `[: , : , …]` has no other token per node
        node(k)
        nodeStart = true
        k++
        continue
      } else if (c === 0x3a) {
        const next = text.charCodeAt(k + 1)
        if (isBlankOrEnd(next) || (flow > 0 && isFlowIndicator(next))) {
          node(k)
          nodeStart = true
          k++
          continue
        }
      }
      if (!nodeStart) {
        k++
        continue
      }
      // ---- a node starts here
      switch (c) {
        case 0x22:
        case 0x27:
          node(k)
          if (flow === 0) lastBlockStart = col
          k = skipQuoted(k, c)
          nodeStart = false
          // JSON style: a value indicator may follow a quoted key directly
          if (text.charCodeAt(k) === 0x3a) {
            node(k)
            nodeStart = true
            k++
          }
          continue
        case 0x26:
          if (++anchors > limits.maxAnchors) throw countError('anchors', limits.maxAnchors, mark(k))
          k = skipName(k)
          continue
        case 0x21:
          k = skipName(k)
          continue
        case 0x2a:
          node(k)
          if (++aliases > limits.maxAliases) throw countError('aliases', limits.maxAliases, mark(k))
          k = skipName(k)
          nodeStart = false
          continue
        case 0x7c:
        case 0x3e:
          if (flow === 0) {
            node(k)
            blockScalarParent = lastBlockStart
            while (k < n && text.charCodeAt(k) !== LF) k++
            continue
          }
          break
        case 0x2d:
        case 0x3f:
          if (flow === 0 && isBlankOrEnd(text.charCodeAt(k + 1))) {
            // a block sequence entry or explicit key: what follows is nested one level deeper
            node(k)
            lastBlockStart = col
            pushIndent(col + 2, k)
            k++
            continue
          }
          break
      }
      // a plain scalar
      node(k)
      if (flow === 0) lastBlockStart = col
      nodeStart = false
      k++
    }
    i = nextLine(text, k)
    line++
    lineStart = i
  }
}

/** Index after the line break at or after `k`. */
function nextLine(text: string, k: number): number {
  const lf = text.indexOf('\n', k)
  return lf < 0 ? text.length : lf + 1
}
