/** `1 migration`, `3 migrations`: a number and its noun, plural unless it is one. */
export function count(n: number, noun: string, plural = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : plural}`;
}
