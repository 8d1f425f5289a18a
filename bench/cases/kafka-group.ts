/**
 * Knowing when the `kafka_tier` gateways' consumer group has settled, so the load starts on the
 * tier it means to measure: every gateway consuming, every partition owned.
 *
 * librdkafka's mock coordinator makes this worth checking. It holds a group's first JoinGroup for
 * about 3 s; any later join waits out session_timeout − 1 s; and a follower whose SyncGroup comes
 * after the leader's gets INVALID_REQUEST, which kafkajs treats as fatal (the kafka receiver then
 * starts a fresh consumer, and the group rebalances again). A follower that loses that race leaves
 * one gateway idle with the other holding every partition until the next generation; a load
 * started then measures one gateway, stalled by a rebalance in the middle.
 *
 * The gateways say what they were assigned in their log (receivers/kafka/receiver.ts logs
 * "Joined the Kafka consumer group." with `partitions` at info on every join, and an empty list when
 * it replaces a crashed consumer; a crash is logged as "Kafka consumer crashed"). The group has
 * settled when each gateway's latest assignment is non-empty, together they cover every partition
 * once, and that has held for a while (a crash right after a join shows up within it).
 */
import { readFileSync } from 'node:fs';

const JOINED = 'Joined the Kafka consumer group.';
const CRASHED = 'Kafka consumer crashed';

/**
 * The partitions a gateway owns according to its log: those of its latest join, or none if it
 * crashed since (its replacement has not joined yet) or never joined.
 */
export function assignmentFromLog(log: string): number[] {
  let partitions: number[] = [];
  for (const line of log.split('\n')) {
    if (line.includes(CRASHED)) partitions = [];
    else if (line.includes(JOINED)) {
      try {
        const entry = JSON.parse(line) as { partitions?: unknown };
        partitions = Array.isArray(entry.partitions) ? entry.partitions.filter((p): p is number => Number.isInteger(p)) : [];
      } catch {
        partitions = [];
      }
    }
  }
  return partitions;
}

/** True if every gateway owns some partition and together they own each of 0..partitions-1 once. */
export function isCompleteAssignment(assignments: readonly (readonly number[])[], partitions: number): boolean {
  if (assignments.some((a) => a.length === 0)) return false;
  const all = assignments.flat();
  if (all.length !== partitions) return false;
  const distinct = new Set(all);
  return distinct.size === partitions && all.every((p) => p >= 0 && p < partitions);
}

export interface GroupMember {
  name: string;
  logFile: string;
  /** Reads the member's join count (`skybridge_kafka_consumer_events_total{event="rebalance"}`). */
  joins(): Promise<number>;
  /** Throws if the member's process is gone (so the wait fails at once, with its output). */
  checkAlive(): void;
}

export interface SettledGroup {
  assignments: Record<string, number[]>;
  /** From the call to the group holding a complete assignment for `holdMs`. */
  settledAfterMs: number;
}

/**
 * Waits until the members hold a complete assignment that has not changed (no join, no crash) for
 * `holdMs`; throws after `timeoutMs` with the last assignments seen.
 */
export async function waitForSettledGroup(members: readonly GroupMember[], partitions: number, options: { timeoutMs: number; holdMs: number }): Promise<SettledGroup> {
  const start = performance.now();
  let previous = '';
  let since = start;
  let assignments: number[][] = [];
  while (performance.now() - start < options.timeoutMs) {
    for (const m of members) m.checkAlive();
    assignments = members.map((m) => {
      try {
        return assignmentFromLog(readFileSync(m.logFile, 'utf8'));
      } catch {
        return [];
      }
    });
    const joins = await Promise.all(members.map((m) => m.joins()));
    const state = JSON.stringify([assignments, joins]);
    const now = performance.now();
    if (state !== previous) [previous, since] = [state, now];
    else if (isCompleteAssignment(assignments, partitions) && now - since >= options.holdMs) {
      return { assignments: Object.fromEntries(members.map((m, i) => [m.name, assignments[i]!])), settledAfterMs: now - start };
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const seen = members.map((m, i) => `${m.name} [${assignments[i]?.join(',') ?? ''}]`).join(', ');
  throw new Error(
    `The gateways' consumer group did not settle within ${options.timeoutMs / 1000}s (last assignments: ${seen}); measuring now would measure a tier ` +
      `that is still rebalancing. The gateways' logs are in ${members.map((m) => m.logFile).join(', ')}.`,
  );
}
