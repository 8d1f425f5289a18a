import { z } from 'zod';
import { duration, size } from '../../core/config/units.ts';
import { patternProblem } from './pattern.ts';

/** Names the processor itself uses for the `policy` metric label; a policy may not take them. */
export const BUDGET_POLICY = 'sample_n_per_3_secs';
export const FLAG_POLICY = 'honour_sampled_flag';

const pattern = (what: string) =>
  z
    .string()
    .min(1)
    .superRefine((text, ctx) => {
      const problem = patternProblem(text);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .describe(`${what}: a glob (\`*\` any run of characters, \`?\` one character; the whole text must match) or a regular expression written /like this/ (flags after the closing slash, e.g. /^get:/i).`);

const matchSchema = z
  .strictObject({
    service: pattern('Service name (`service.name`, or SkyWalking\'s `namespace::name`)').optional(),
    endpoint: pattern('Endpoint of an entry (SERVER/CONSUMER) span: the name SkyWalking shows, e.g. "GET:/checkout", or the span name').optional(),
    attributes: z
      .record(z.string().min(1), z.union([pattern('Attribute value'), z.number(), z.boolean()]))
      .optional()
      .describe('Attribute key → value. A string is a glob or /regex/ matched against the value as text; a number or boolean must equal it. Span attributes first, then the resource\'s.'),
  })
  .refine((m) => m.service !== undefined || m.endpoint !== undefined || (m.attributes !== undefined && Object.keys(m.attributes).length > 0), {
    message: 'matches nothing: give at least one of service, endpoint, attributes. Fix: add a condition, or remove the policy.',
  })
  .describe('A trace matches when one of its spans meets every condition given.');

const name = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'expected 1–64 letters, digits, "_", "." or "-". Fix: rename the policy; it becomes a metric label.')
  .describe('Unique; the `policy` label of the tail_sampling metrics.');

const policySchema = z.discriminatedUnion('type', [
  z.strictObject({ name, type: z.literal('error') }).describe('Keep every trace with a span whose status is ERROR.'),
  z
    .strictObject({
      name,
      type: z.literal('latency'),
      latency: z.strictObject({
        threshold: duration({ min: '1ms', max: '24h' }).describe('Keep a trace whose duration (earliest span start → latest span end) is at least this.'),
      }),
    })
    .describe('Keep slow traces.'),
  z.strictObject({ name, type: z.literal('keep'), keep: matchSchema }).describe('Always keep matching traces (they still count against the budget).'),
  z.strictObject({ name, type: z.literal('drop'), drop: matchSchema }).describe('Drop matching traces, whatever else matches (health checks, synthetic traffic).'),
]);
export type PolicyConfig = z.output<typeof policySchema>;
export type MatchConfig = z.output<typeof matchSchema>;

export const tailSamplingConfigSchema = z
  .strictObject({
    sample_n_per_3_secs: z
      .number().int().min(0).max(10_000_000).default(0)
      .describe('Traces kept per 3-second window of trace start time, as SkyWalking agents\' agent.sample_n_per_3_secs. Must-keep traces always pass and count against it; the rest goes to the traces with the highest trace-id randomness. 0 keeps every trace no drop policy matched.'),
    decision_wait: duration({ min: '10ms', max: '30m' })
      .prefault('10s')
      .describe('Longest a trace is held from its first span before it is decided with what arrived. Also the grace after a window ends during which its traces still compete for its budget.'),
    quiet_period: duration({ min: '10ms', max: '5m' })
      .prefault('1s')
      .describe('A trace whose spans all have their parents is ready once no span of it arrived for this long (earlier than decision_wait).'),
    max_traces: z.number().int().min(1).max(10_000_000).default(50_000).describe('Traces held at once; past it the oldest is decided early (counted, logged).'),
    max_spans_per_trace: z
      .number().int().min(1).max(10_000_000).default(10_000)
      .describe('A trace with more spans is decided at once, so one huge trace cannot starve the others; its later spans follow the decision.'),
    max_buffer_bytes: size({ min: '1MiB', max: '64GiB' })
      .prefault('256MiB')
      .describe('Estimated heap of every held span together; past it the oldest traces are decided early (counted, logged).'),
    decision_cache_size: z
      .number().int().min(0).max(100_000_000).default(200_000)
      .describe('Trace ids remembered with their decision (kept or dropped), so late spans follow it. Oldest forgotten first; 0 = off.'),
    honour_sampled_flag: z
      .enum(['none', 'w3c', 'sw8', 'both'])
      .default('none')
      .describe('Keep traces an upstream caller sampled: w3c = a span whose parent is outside the trace carries the W3C sampled flag; sw8 = a span continues a SkyWalking trace whose sw8 sample flag is 1.'),
    ack: z
      .enum(['on_buffer', 'after_decision'])
      .default('on_buffer')
      .describe('When a batch is acknowledged to its sender: on_buffer = once its spans are held (memory); after_decision = once its traces were decided and the kept ones accepted by the next stage. A Kafka gateway needs after_decision (with the exporter on ack: after_export), or it commits offsets of spans still in memory.'),
    ack_timeout: duration({ min: '100ms', max: '30m' })
      .prefault('60s')
      .describe('With ack: after_decision, how long a batch may wait before its sender gets a retryable error (it resends; held spans are recognised as duplicates). Keep it above decision_wait plus the exporter\'s own wait.'),
    policies: z
      .array(policySchema)
      .default([])
      .superRefine((policies, ctx) => {
        const seen = new Set<string>();
        policies.forEach((p, i) => {
          if (p.name === BUDGET_POLICY || p.name === FLAG_POLICY) {
            ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `"${p.name}" is reserved for the processor's own decisions. Fix: choose another name.` });
          } else if (seen.has(p.name)) {
            ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `a policy named "${p.name}" is already defined. Fix: give every policy its own name.` });
          }
          seen.add(p.name);
        });
      })
      .describe('error | latency | keep policies make a trace must-keep; drop policies win over everything.'),
  })
  .refine((c) => c.ack !== 'after_decision' || c.ack_timeout > c.decision_wait, {
    message: 'ack_timeout must be longer than decision_wait: a trace may wait that long for its decision. Fix: raise ack_timeout or lower decision_wait.',
    path: ['ack_timeout'],
  })
  .describe('Tail sampling with a SkyWalking-style budget of traces per 3 seconds, the same choice on every replica.');

export type TailSamplingConfig = z.output<typeof tailSamplingConfigSchema>;
