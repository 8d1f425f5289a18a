/**
 * The text patterns of keep/drop policies: a glob (`*` any run of characters, `?` one character,
 * anchored at both ends) or a regular expression written between slashes, `/^GET:\/health/i`,
 * which is not anchored unless it says so.
 */

export type TextMatcher = (text: string) => boolean;

const REGEX_LITERAL = /^\/(.+)\/([dgimsuvy]*)$/s;

/** Why `text` is not a usable pattern, as a config message; undefined when it is fine. */
export function patternProblem(text: string): string | undefined {
  const m = REGEX_LITERAL.exec(text);
  if (!m) return undefined;
  try {
    new RegExp(m[1]!, m[2]!.replace(/[gy]/g, ''));
    return undefined;
  } catch (error) {
    return `${JSON.stringify(text)} is not a valid regular expression (${(error as Error).message}). Fix: correct it, or write a glob without the surrounding slashes.`;
  }
}

export function compilePattern(text: string): TextMatcher {
  const m = REGEX_LITERAL.exec(text);
  if (m) {
    // g and y would make test() stateful through lastIndex.
    const re = new RegExp(m[1]!, m[2]!.replace(/[gy]/g, ''));
    return (s) => re.test(s);
  }
  if (!/[*?]/.test(text)) return (s) => s === text;
  const source = text.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  const re = new RegExp(`^${source}$`, 's');
  return (s) => re.test(s);
}
