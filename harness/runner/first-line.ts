/**
 * The first line of a stream that arrives in chunks (the runner's plan on stdin: one JSON line, tens of
 * MB with a network's real weights). Each chunk is searched once, on its own: searching the whole text
 * received so far on every chunk was quadratic in the plan's size (seconds for a large plan). Pure.
 */
export function firstLineReader(): { push(chunk: string): string | null; rest(): string } {
  const parts: string[] = [];
  return {
    /** The first line (without its newline) once a chunk completes it, else null. */
    push(chunk: string): string | null {
      const i = chunk.indexOf('\n');
      if (i < 0) {
        parts.push(chunk);
        return null;
      }
      parts.push(chunk.slice(0, i));
      return parts.join('');
    },
    /** Everything received, when the stream ended without a newline. */
    rest: () => parts.join(''),
  };
}
