/**
 * `npm run fuzz -- [--cases 2000] [--seed N] [--only "otlp/grpc,zipkin json v2"]`: the fuzzing
 * harness (harness.ts) run by hand, longer than in CI. Prints one line per decoder and every finding;
 * exits 1 if there was one.
 */
import { parseArgs } from 'node:util';
import { runFuzz } from './harness.ts';

const { values } = parseArgs({ options: { cases: { type: 'string', default: '2000' }, seed: { type: 'string', default: String(Date.now() % 100000) }, only: { type: 'string' } } });
const seed = Number(values.seed);
process.stdout.write(`fuzz: ${values.cases} cases per decoder, seed ${seed}\n`);
const report = await runFuzz({ cases: Number(values.cases), seed, ...(values.only ? { only: values.only.split(',').map((s) => s.trim()) } : {}), onProgress: (line) => process.stdout.write(`  ${line}\n`) });
let findings = 0;
for (const t of report.targets) for (const f of t.findings) (findings++, process.stdout.write(`FINDING ${t.name}: ${f}\n`));
process.stdout.write(`RSS ${report.rssBeforeMiB.toFixed(0)} → peak ${report.rssPeakMiB.toFixed(0)} MiB; ${findings} findings (seed ${seed}).\n`);
process.exit(findings > 0 ? 1 : 0);
