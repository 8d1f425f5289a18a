/**
 * Publishes the OAP channel's connectivity (idle, connecting, ready, transient_failure, shutdown)
 * as skybridge_exporter_connection_state, so the status page and /metrics show whether the OAP is
 * reachable without waiting for a send to fail. grpc-js calls back on each change; nothing polls.
 */
import { connectivityState, type Client } from '@grpc/grpc-js';
import type { Metrics } from '../../core/telemetry/metrics.ts';

const STATE_NAMES: Record<connectivityState, string> = {
  [connectivityState.IDLE]: 'idle',
  [connectivityState.CONNECTING]: 'connecting',
  [connectivityState.READY]: 'ready',
  [connectivityState.TRANSIENT_FAILURE]: 'transient_failure',
  [connectivityState.SHUTDOWN]: 'shutdown',
};

/** Follows the channel until it shuts down (client.close()). */
export function publishChannelState(client: Client, metrics: Metrics, component: string): void {
  const channel = client.getChannel();
  const publish = (): void => {
    const current = channel.getConnectivityState(false);
    for (const [state, name] of Object.entries(STATE_NAMES)) {
      metrics.exporterConnectionState.set({ component, state: name }, Number(state) === current ? 1 : 0);
    }
    // The deadline Infinity sets no timer, so the watch never keeps the process alive.
    if (current !== connectivityState.SHUTDOWN) channel.watchConnectivityState(current, Infinity, publish);
  };
  publish();
}
