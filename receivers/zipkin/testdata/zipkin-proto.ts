/**
 * An independent proto3 encoder for tests: protobufjs' full build compiles this `.proto` text (our
 * own, written from the field numbers in zipkin-api `zipkin.proto`) and encodes ListOfSpans with it.
 */
import protobuf from 'protobufjs';

const PROTO = `
syntax = "proto3";
package zipkin.proto3;
message Endpoint { string service_name = 1; bytes ipv4 = 2; bytes ipv6 = 3; int32 port = 4; }
message Annotation { fixed64 timestamp = 1; string value = 2; }
message Span {
  enum Kind { SPAN_KIND_UNSPECIFIED = 0; CLIENT = 1; SERVER = 2; PRODUCER = 3; CONSUMER = 4; }
  bytes trace_id = 1; bytes parent_id = 2; bytes id = 3; Kind kind = 4; string name = 5;
  fixed64 timestamp = 6; uint64 duration = 7; Endpoint local_endpoint = 8; Endpoint remote_endpoint = 9;
  repeated Annotation annotations = 10; map<string, string> tags = 11; bool debug = 12; bool shared = 13;
}
message ListOfSpans { repeated Span spans = 1; }
`;

const root = protobuf.parse(PROTO, { keepCase: true }).root;
const ListOfSpans = root.lookupType('zipkin.proto3.ListOfSpans');

/** Encodes `{ spans: [...] }` given in the .proto's snake_case field names (bytes as Buffers, int64 as numbers or strings). */
export function encodeListOfSpans(value: { spans: Record<string, unknown>[] }): Buffer {
  const problem = ListOfSpans.verify(value);
  if (problem) throw new Error(`test fixture does not fit zipkin.proto: ${problem}`);
  return Buffer.from(ListOfSpans.encode(ListOfSpans.fromObject(value)).finish());
}

/** 16 hex characters → 8 bytes. */
export const idBytes = (hex: string): Buffer => Buffer.from(hex, 'hex');

/** A uint64 above 2^53, exact (protobufjs takes Long for those). */
export const uint64 = (decimal: string): unknown =>
  (protobuf.util.Long as unknown as { fromString(text: string, unsigned: boolean): unknown }).fromString(decimal, true);
