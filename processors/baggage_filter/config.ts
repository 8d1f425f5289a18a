import { z } from 'zod';
import { keyPatternProblem } from './key-pattern.ts';
import { REDACTION_PRESETS } from './redaction.ts';

const keyPattern = z
  .string()
  .min(1)
  .superRefine((p, ctx) => {
    const problem = keyPatternProblem(p);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

const customValuePattern = z
  .strictObject({
    regex: z
      .string()
      .min(1)
      .superRefine((src, ctx) => {
        try {
          new RegExp(src);
        } catch (error) {
          ctx.addIssue({ code: 'custom', message: `not a valid regular expression (${(error as Error).message}). Fix: correct it; it is matched anywhere in the value.` });
        }
      })
      .describe('A JavaScript regular expression, matched anywhere in the value.'),
    name: z.string().regex(/^[a-z][a-z0-9_]*$/, { message: 'expected lower_snake_case. Fix: name it like "employee_id".' }).optional().describe('Shown as the `reason` label of skybridge_baggage_filter_entries_total; "custom" when absent.'),
    ignore_case: z.boolean().default(false).describe('Match regardless of case.'),
  })
  .describe('A custom value pattern.');

export const baggageFilterConfigSchema = z
  .strictObject({
    allow_keys: z
      .array(keyPattern)
      .optional()
      .describe('Baggage keys that may become tags: exact keys, globs ("user.*") or /regex/. When absent, every key not denied is allowed; an empty list allows none.'),
    deny_keys: z
      .array(keyPattern)
      .default([])
      .describe('Baggage keys that never become tags, whatever allow_keys says: exact keys, globs or /regex/.'),
    attribute_prefixes: z
      .array(z.string().min(1))
      .default(['baggage.', 'sw8.correlation.'])
      .describe('Span attributes whose key starts with one of these carry a baggage entry; the baggage key is the rest of the attribute key.'),
    attribute_keys: z
      .array(keyPattern)
      .default([])
      .describe('Span attributes that are baggage entries under their own key, as OpenTelemetry\'s BaggageSpanProcessor writes them: exact keys, globs or /regex/.'),
    redact_values: z
      .array(z.union([z.enum(REDACTION_PRESETS), customValuePattern]))
      .default([...REDACTION_PRESETS])
      .describe('Patterns that mark a value as secret, matched anywhere in it: the presets email, bearer_token, jwt, credit_card (Luhn-checked), or { regex, name, ignore_case }. All presets by default; [] turns redaction off.'),
    redaction: z
      .enum(['mask', 'drop'])
      .default('mask')
      .describe('What happens to an entry whose value matches redact_values: "mask" keeps the tag with the whole value replaced by "***"; "drop" leaves the entry out.'),
    max_entries: z
      .number().int().min(0).max(64).default(16)
      .describe('Most baggage tags on one entry span; further entries (in the order they were found) are dropped whole.'),
    max_value_length: z
      .number().int().min(1).max(8192).default(256)
      .describe('Longest value, in UTF-8 bytes. A longer value drops the whole entry; values are never truncated.'),
    tag_prefix: z
      .string()
      .default('')
      .describe('Prepended to the baggage key to form the tag key; empty by default, so the tag key is the baggage key.'),
  })
  .describe('Turns baggage carried on spans into tags on each process\'s entry span, keeping only allowed, non-secret, whole entries.');

export type BaggageFilterConfig = z.output<typeof baggageFilterConfigSchema>;
