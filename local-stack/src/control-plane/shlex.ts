/**
 * Splits an MWAA CLI request body into argv the way Python's `shlex.split` does (POSIX mode, no
 * comments), which is how MWAA's web server splits it. No shell is ever involved: quotes and
 * backslashes only group characters, `$`, backticks and `;` are ordinary characters.
 */

export class ShlexError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShlexError';
  }
}

const WHITESPACE = new Set([' ', '\t', '\n', '\r', '\f', '\v']);

export function shlexSplit(input: string): string[] {
  const words: string[] = [];
  let word = '';
  // A word exists once any character or quote pair was seen: `''` yields one empty word.
  let inWord = false;
  let i = 0;
  while (i < input.length) {
    const ch = input[i]!;
    if (WHITESPACE.has(ch)) {
      if (inWord) {
        words.push(word);
        word = '';
        inWord = false;
      }
      i += 1;
    } else if (ch === '\\') {
      if (i + 1 >= input.length) throw new ShlexError('No escaped character');
      word += input[i + 1];
      inWord = true;
      i += 2;
    } else if (ch === "'") {
      const end = input.indexOf("'", i + 1);
      if (end < 0) throw new ShlexError('No closing quotation');
      word += input.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (ch === '"') {
      i += 1;
      let closed = false;
      while (i < input.length) {
        const c = input[i]!;
        if (c === '"') {
          closed = true;
          i += 1;
          break;
        }
        if (c === '\\') {
          if (i + 1 >= input.length) throw new ShlexError('No escaped character');
          const next = input[i + 1]!;
          // Inside double quotes only `\"` and `\\` are escapes; any other backslash stays.
          word += next === '"' || next === '\\' ? next : `\\${next}`;
          i += 2;
          continue;
        }
        word += c;
        i += 1;
      }
      if (!closed) throw new ShlexError('No closing quotation');
      inWord = true;
    } else {
      word += ch;
      inWord = true;
      i += 1;
    }
  }
  if (inWord) words.push(word);
  return words;
}
