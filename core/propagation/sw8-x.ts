/**
 * The SkyWalking `sw8-x` extension header (docs/skywalking-model.md "sw8-x"; the Java agent's
 * `ExtensionContext`). Pure.
 *
 *   sw8-x: <tracing mode>-<sending timestamp>
 *
 * Every field is optional. Tracing mode `1` means every span of the context skips analysis (and the
 * mode travels on); empty or `0` is the default. The sending timestamp (epoch ms) is set by an MQ
 * producer so the consumer can tag `transmission.latency`. The Java agent writes `0- ` (a space
 * placeholder) when there is no timestamp; an unreadable timestamp is ignored, not fatal.
 */

export const SW8_X_HEADER = 'sw8-x';

export interface Sw8Extension {
  skipAnalysis: boolean;
  /** Epoch milliseconds when the exit span sent the message, if it said. */
  sendingTimestamp?: number;
}

const JAVA_LONG = /^[+-]?\d+$/;

/** Decodes an `sw8-x` value; undefined for an absent or empty header. */
export function decodeSw8X(header: string | readonly string[] | undefined): Sw8Extension | undefined {
  const value = typeof header === 'string' ? header : header?.[0];
  if (!value) return undefined;
  const parts = value.split('-');
  const ext: Sw8Extension = { skipAnalysis: parts[0]?.trim() === '1' };
  const ts = parts[1]?.trim();
  if (ts && JAVA_LONG.test(ts)) {
    const n = Number(ts);
    if (Number.isSafeInteger(n)) ext.sendingTimestamp = n;
  }
  return ext;
}

/** The header value, in the Java agent's form (`0- ` when there is no timestamp). */
export function encodeSw8X(ext: Sw8Extension): string {
  return `${ext.skipAnalysis ? '1' : '0'}-${ext.sendingTimestamp === undefined ? ' ' : Math.trunc(ext.sendingTimestamp)}`;
}
