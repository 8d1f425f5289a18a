/**
 * Protobuf encoding of what skybridge sends to the OAP, from the `.proto` files in `./proto/`
 * (package skywalking.v3), except segments: those are encoded by segment-encoder.ts. The plain objects of core/segments/segment-object.ts already have the
 * proto's field names and numeric enums, so they are encoded as they are: no `fromObject` copy and
 * no verification pass on the hot path (the segment builder owns their correctness).
 */
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import protobuf from 'protobufjs';
import { encodeSegmentObject } from './segment-encoder.ts';
import type { InstancePingPkg, InstanceProperties, KeyStringValuePair, SegmentObject } from '../../core/segments/segment-object.ts';

const PROTO_DIR = fileURLToPath(new URL('./proto/', import.meta.url));

function loadRoot(): protobuf.Root {
  const root = new protobuf.Root();
  // The files import each other as "common/Common.proto", relative to the proto root (as protoc's -I).
  root.resolvePath = (_origin, target) => (path.isAbsolute(target) ? target : path.join(PROTO_DIR, target));
  // keepCase: the proto fields are already camelCase and must match segment-object.ts exactly.
  root.loadSync(['language-agent/Tracing.proto', 'management/Management.proto'], { keepCase: true });
  root.resolveAll();
  return root;
}

const root = loadRoot();
const InstancePropertiesType = root.lookupType('skywalking.v3.InstanceProperties');
const InstancePingPkgType = root.lookupType('skywalking.v3.InstancePingPkg');
const CommandsType = root.lookupType('skywalking.v3.Commands');

/** `skywalking.v3.Command`: an instruction from the OAP. Meant for language agents; skybridge only logs them. */
export interface Command {
  command: string;
  args: KeyStringValuePair[];
}

function toBuffer(bytes: Uint8Array): Buffer {
  // protobufjs hands out a Buffer under Node; the copy-free view covers other builds.
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Encode one segment as a `skywalking.v3.SegmentObject` message (segment-encoder.ts: the hot path's
 * own encoder; protobufjs encodes the rest). Times (int64) are JS numbers, exact up to 2^53 ms.
 */
export const encodeSegment: (segment: SegmentObject) => Buffer = encodeSegmentObject;

/** Encode a `ManagementService/reportInstanceProperties` request. */
export function encodeInstanceProperties(props: InstanceProperties): Buffer {
  return toBuffer(InstancePropertiesType.encode(props as unknown as Record<string, unknown>).finish());
}

/** Encode a `ManagementService/keepAlive` request. */
export function encodeInstancePingPkg(ping: InstancePingPkg): Buffer {
  return toBuffer(InstancePingPkgType.encode(ping as unknown as Record<string, unknown>).finish());
}

/** Decode the `skywalking.v3.Commands` every OAP call answers with. Throws on malformed bytes. */
export function decodeCommands(bytes: Uint8Array): Command[] {
  const decoded = CommandsType.toObject(CommandsType.decode(bytes), { arrays: true, defaults: true }) as { commands: Command[] };
  return decoded.commands;
}
