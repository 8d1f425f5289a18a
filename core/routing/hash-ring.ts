/**
 * A consistent-hash ring of gateway endpoints. Each endpoint owns POINTS_PER_ENDPOINT points on a
 * 32-bit circle, placed by hashing `endpoint#i`; a key belongs to the endpoint of the first point at
 * or after the key's hash. Adding or removing an endpoint moves only the keys of the arcs it gains
 * or loses (about 1/n of them), and every agent that sees the same endpoint list builds the same
 * ring, so all agents send a trace to the same gateway without talking to each other.
 */
import { createHash } from 'node:crypto';

/** Points per endpoint: enough that n gateways get close to 1/n of the keys each (within a few %). */
const POINTS_PER_ENDPOINT = 160;

function hash32(text: string): number {
  return createHash('sha1').update(text).digest().readUInt32BE(0);
}

/** The hash of a trace id: its first 8 hex digits (trace ids are random), hashed again for ids that are not. */
export function traceKey(traceId: string): number {
  return hash32(traceId);
}

export class HashRing {
  readonly endpoints: readonly string[];
  readonly #points: Uint32Array;
  readonly #owners: string[];

  /** `endpoints` in any order; duplicates count once. */
  constructor(endpoints: Iterable<string>) {
    this.endpoints = [...new Set(endpoints)].sort();
    const points: { at: number; owner: string }[] = [];
    for (const endpoint of this.endpoints) {
      for (let i = 0; i < POINTS_PER_ENDPOINT; i++) points.push({ at: hash32(`${endpoint}#${i}`), owner: endpoint });
    }
    // Ties (2^-32 per pair) resolve by endpoint name, the same on every agent.
    points.sort((a, b) => a.at - b.at || (a.owner < b.owner ? -1 : 1));
    this.#points = Uint32Array.from(points, (p) => p.at);
    this.#owners = points.map((p) => p.owner);
  }

  get size(): number {
    return this.endpoints.length;
  }

  /** The endpoint owning `key` (a 32-bit hash), or undefined for an empty ring. */
  ownerOf(key: number): string | undefined {
    const points = this.#points;
    if (points.length === 0) return undefined;
    let lo = 0;
    let hi = points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (points[mid]! < key) lo = mid + 1;
      else hi = mid;
    }
    return this.#owners[lo === points.length ? 0 : lo];
  }

  /** Same endpoints, same ring. */
  sameAs(endpoints: Iterable<string>): boolean {
    const other = [...new Set(endpoints)].sort();
    return other.length === this.endpoints.length && other.every((e, i) => e === this.endpoints[i]);
  }
}
