/**
 * Text forms of the packed addresses in Zipkin's binary encodings: proto3 `Endpoint.ipv4` (4 bytes)
 * and `ipv6` (16 bytes), Thrift `Endpoint.ipv4` (an i32) and `ipv6` (16 bytes).
 */

/** An IPv4 address from 4 big-endian bytes; undefined for another length or 0.0.0.0. */
export function ipv4FromBytes(b: Uint8Array): string | undefined {
  if (b.length !== 4) return undefined;
  if (b[0] === 0 && b[1] === 0 && b[2] === 0 && b[3] === 0) return undefined;
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

/** An IPv4 address packed into an i32, `(1 << 24) | (2 << 16) | (3 << 8) | 4` for 1.2.3.4; 0 means absent. */
export function ipv4FromInt32(v: number): string | undefined {
  if (v === 0) return undefined;
  return `${(v >>> 24) & 0xff}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}.${v & 0xff}`;
}

/**
 * An IPv6 address from 16 bytes in RFC 5952 form (lower case, longest zero run compressed). An
 * IPv4-mapped address (::ffff:a.b.c.d) is returned as `{ ipv4 }`, as Zipkin stores it.
 */
export function ipv6FromBytes(b: Uint8Array): { ipv4?: string; ipv6?: string } {
  if (b.length !== 16) return {};
  if (b.every((x) => x === 0)) return {};
  if (b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) {
    return { ipv4: `${b[12]}.${b[13]}.${b[14]}.${b[15]}` };
  }
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i]! << 8) | b[i + 1]!);
  // The longest run of two or more zero groups becomes "::" (the first one on a tie).
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return { ipv6: hex.join(':') };
  return { ipv6: `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}` };
}
