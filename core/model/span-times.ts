/**
 * Plausibility of a span's times, checked where receivers check ids. Only what cannot be a clock
 * reading is refused, so a host whose clock is off still reports. A time past 2100 (a Zipkin `timestamp:
 * 1e300`, an unset high bit) would become a segment the OAP stores with an absurd time bucket; an end
 * before the start or a duration of years would skew its latency metrics.
 * Such spans are left out of the request and reported as a partial success, counted like spans
 * with invalid ids.
 */

/** 2100-01-01T00:00:00Z in unix nanoseconds. */
export const LATEST_PLAUSIBLE_NS = 4_102_444_800_000_000_000n;

/**
 * Longest span accepted: 31 days. Long batch jobs last hours; a span of years is a start time
 * left at 0 or a unit mistake, and as a segment it would skew the OAP's latency metrics.
 */
export const LONGEST_PLAUSIBLE_NS = 31n * 24n * 3600n * 1_000_000_000n;

const BACKWARD_STEP_TOLERANCE_NS = 60n * 1_000_000_000n;

/** What is wrong with a span's times, or undefined when they can be exported. */
export function spanTimeProblem(startNs: bigint, endNs: bigint): string | undefined {
  if (startNs >= LATEST_PLAUSIBLE_NS) return 'its start time is after 2100-01-01 (not a clock reading: check the unit, nanoseconds or microseconds)';
  if (endNs >= LATEST_PLAUSIBLE_NS) return 'its end time is after 2100-01-01 (not a clock reading: check the unit and the duration)';
  // One span's two times come from one clock. A wall clock stepped back by NTP mid-span (SDKs that
  // read it twice) ends a span slightly before it starts, and the segment builder clamps that; a
  // minute or more is not a step but a bug.
  if (startNs - endNs > BACKWARD_STEP_TOLERANCE_NS) return 'it ends more than a minute before it starts';
  if (endNs - startNs > LONGEST_PLAUSIBLE_NS) return 'it lasts more than 31 days (a start time of 0, or a unit mistake)';
  return undefined;
}
