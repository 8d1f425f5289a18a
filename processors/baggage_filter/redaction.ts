/**
 * Value patterns that mark a baggage value as secret. A pattern matches when it occurs anywhere in
 * the value, and then the whole value is masked or dropped, never a part of it.
 */

export const REDACTION_PRESETS = ['email', 'bearer_token', 'jwt', 'credit_card'] as const;
export type RedactionPreset = (typeof REDACTION_PRESETS)[number];

export interface ValuePattern {
  /** The preset's name or the custom pattern's `name`: the `reason` label of the metric. */
  readonly name: string;
  test(value: string): boolean;
}

function regexPattern(name: string, re: RegExp): ValuePattern {
  return { name, test: (value) => re.test(value) };
}

/** Luhn checksum over the digits of a candidate card number. */
function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

const CARD_CANDIDATE = /(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)/g;

const PRESETS: Record<RedactionPreset, ValuePattern> = {
  email: regexPattern('email', /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/),
  bearer_token: regexPattern('bearer_token', /\bbearer\s+[A-Za-z0-9._~+/-]+=*/i),
  // Header and payload are base64url JSON, so both start with "eyJ" ('{"').
  jwt: regexPattern('jwt', /\beyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/),
  // 13–19 digits, optionally grouped by spaces or dashes, that pass the Luhn check (so order ids
  // and timestamps rarely match).
  credit_card: {
    name: 'credit_card',
    test(value) {
      for (const m of value.matchAll(CARD_CANDIDATE)) {
        const digits = m[0].replace(/[ -]/g, '');
        if (digits.length >= 13 && digits.length <= 19 && luhn(digits)) return true;
      }
      return false;
    },
  },
};

export interface CustomValuePattern {
  regex: string;
  name?: string | undefined;
  ignore_case: boolean;
}

export function compileValuePattern(p: RedactionPreset | CustomValuePattern): ValuePattern {
  if (typeof p === 'string') return PRESETS[p];
  return regexPattern(p.name ?? 'custom', new RegExp(p.regex, p.ignore_case ? 'i' : ''));
}
