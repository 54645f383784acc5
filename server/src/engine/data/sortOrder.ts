/**
 * Orders strings by Unicode code point, as Python's `sorted` does. JavaScript's default sort compares UTF-16 code
 * units, which puts astral characters (emoji, rare CJK) before U+E000..U+FFFF; class indices must not depend on that.
 */
export function compareCodePoints(a: string, b: string): number {
  const ai = a[Symbol.iterator]();
  const bi = b[Symbol.iterator]();
  for (;;) {
    const x = ai.next();
    const y = bi.next();
    if (x.done || y.done) return x.done === y.done ? 0 : x.done ? -1 : 1;
    const dx = x.value.codePointAt(0)!;
    const dy = y.value.codePointAt(0)!;
    if (dx !== dy) return dx - dy;
  }
}

export function sortedByCodePoint(values: Iterable<string>): string[] {
  return [...values].sort(compareCodePoints);
}
