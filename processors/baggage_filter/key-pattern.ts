/**
 * Key patterns for allow/deny lists: an exact key (`tenant`), a glob (`user.*`, `*_id`, `?` for one
 * character) or a regular expression between slashes (`/^ab[0-9]+$/`, `/^Tenant$/i`).
 */

export type KeyMatcher = (key: string) => boolean;

const REGEX_FORM = /^\/(.+)\/(i?)$/;

/** Compiles one pattern; throws a SyntaxError for a regular expression that does not compile. */
export function compileKeyPattern(pattern: string): KeyMatcher {
  const regex = REGEX_FORM.exec(pattern);
  if (regex) {
    const re = new RegExp(regex[1]!, regex[2]);
    return (key) => re.test(key);
  }
  if (pattern.includes('*') || pattern.includes('?')) {
    const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
    const re = new RegExp(`^${source}$`, 's');
    return (key) => re.test(key);
  }
  return (key) => key === pattern;
}

/** One matcher for a list; an empty list matches nothing. */
export function compileKeyPatterns(patterns: readonly string[]): KeyMatcher {
  const exact = new Set<string>();
  const others: KeyMatcher[] = [];
  for (const p of patterns) {
    const m = compileKeyPattern(p);
    if (REGEX_FORM.test(p) || p.includes('*') || p.includes('?')) others.push(m);
    else exact.add(p);
  }
  return (key) => exact.has(key) || others.some((m) => m(key));
}

/** The problem with a pattern, or undefined when it compiles. */
export function keyPatternProblem(pattern: string): string | undefined {
  try {
    compileKeyPattern(pattern);
    return undefined;
  } catch (error) {
    return `${JSON.stringify(pattern)} is not a valid regular expression (${(error as Error).message}). Fix: correct it, or write an exact key or a glob such as "user.*".`;
  }
}
