/**
 * Markdown that shows text exactly and does nothing else: every character with
 * a meaning in (GitHub-flavoured) Markdown is escaped, HTML is made inert, and
 * control characters (which could break a table row, move the terminal cursor
 * or reorder text) are shown as visible escapes.
 */

/** C0 and C1 controls, DEL, line/paragraph separators, bidirectional overrides and isolates, zero-width and BOM characters. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/gu;

/** A control character as visible text: \x1b, \u202e. */
function visible(ch: string): string {
  const code = ch.codePointAt(0) ?? 0;
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/**
 * Plain text as Markdown text (safe in a paragraph and in a GFM table cell).
 * Backslash-escapes the punctuation that makes Markdown (emphasis, code, links, images, headings, tables, math), writes < > & and @ as entities (no
 * HTML, no autolinks, no mentions), and control characters as \xNN (a tab is a space).
 */
export function mdText(s: string): string {
  return s
    .replace(/\t/g, ' ')
    .replace(CONTROL, (ch) => `\u0000${visible(ch)}\u0000`)
    .split('\u0000')
    .map((part, i) =>
      // odd parts are the visible escapes made above: their backslash must show, so it is escaped too
      i % 2 === 1
        ? part.replace(/\\/g, '\\\\')
        : part
            .replace(/[\\`*_{}[\]()#!|~$]/g, (ch) => `\\${ch}`)
            .replace(/&/g, '&amp;')
            .replace(/</g, '&lt;')
            .replace(/>/g, '&gt;')
            .replace(/"/g, '&quot;')
            .replace(/@/g, '&#64;'),
    )
    .join('');
}

/** A GFM table: header and rows of plain text (escaped here). */
export function mdTable(head: string[], rows: string[][], align: ('left' | 'right')[] = []): string {
  const line = (cells: string[]) => `| ${cells.map((c) => mdText(c)).join(' | ')} |`;
  const rule = `|${head.map((_, i) => (align[i] === 'right' ? ' ---: ' : ' --- ')).join('|')}|`;
  return [line(head), rule, ...rows.map(line)].join('\n');
}
