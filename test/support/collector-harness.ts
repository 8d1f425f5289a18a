/**
 * Runs skybridge in-process for a test: a pipeline from the given receivers YAML to the `skywalking`
 * exporter pointed at a stand-in OAP, with a short quiet period so tests finish quickly.
 */
import { components } from '../../components.ts';
import { startCollector, type RunningCollector } from '../../core/collector.ts';
import { createLogger } from '../../core/telemetry/logger.ts';
import { StandInOap } from './stand-in-oap.ts';

export interface Harness {
  collector: RunningCollector;
  oap: StandInOap;
  stop(): Promise<void>;
}

export async function startHarness(opts: { receiversYaml: string; receiverIds: string[]; quietPeriod?: string; token?: string }): Promise<Harness> {
  const oap = await StandInOap.start(opts.token ? { token: opts.token } : {});
  const yaml = `
receivers:
${opts.receiversYaml}
exporters:
  skywalking:
    endpoint: ${oap.endpoint}
    token: "${opts.token ?? ''}"
    assembly:
      quiet_period: ${opts.quietPeriod ?? '300ms'}
pipelines:
  traces:
    receivers: [${opts.receiverIds.join(', ')}]
    exporters: [skywalking]
telemetry:
  endpoint: null
  log_level: silent
`;
  const collector = await startCollector({ text: yaml, name: 'test.yaml' }, components, { logger: createLogger({ level: 'silent' }) });
  return {
    collector,
    oap,
    async stop() {
      await collector.shutdown(5_000);
      await oap.stop();
    },
  };
}
