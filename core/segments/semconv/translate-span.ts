/**
 * One OTel span → the SkyWalking span vocabulary (operation name, peer, layer, component id, tags,
 * error flag, logs). The families are tried most specific first; the first that recognises the
 * span's attributes wins. Unknown instrumentation still gives a valid span: its name, layer
 * Unknown, the library's component id when the scope names a known library, and every attribute
 * as a tag. docs/translation.md is the table of what maps where.
 */
import type { InstrumentationScope, Span } from '../../model/span-batch.ts';
import { SpanKind, StatusCode } from '../../model/span-batch.ts';
import { SpanLayer, type KeyStringValuePair, type SpanLog } from '../segment-object.ts';
import { attributeText } from '../service-identity.ts';
import { SW_SPAN_ID_ATTRIBUTE } from '../../propagation/skywalking-continuation.ts';
import { clientPeer, text } from './attribute-lookup.ts';
import { Component, componentForScope } from './component-ids.ts';
import { translateDatabase } from './database.ts';
import { translateFaas } from './faas.ts';
import { translateGenAi } from './gen-ai.ts';
import { translateHttp } from './http.ts';
import { translateMessaging } from './messaging.ts';
import { translateRpc } from './rpc.ts';
import { DEFAULT_TRANSLATION_OPTIONS, type FamilyTranslator, type SpanContext, type TranslationOptions } from './translation.ts';

/** OAP default endpointNameMaxLength; longer names are cut there anyway. */
export const ENDPOINT_NAME_MAX = 150;

export interface TranslatedSpan {
  operationName: string;
  /** Remote address (`host:port`) for Exit spans and MQ consumers; '' when unknown. */
  peer: string;
  layer: SpanLayer;
  componentId: number;
  isError: boolean;
  tags: KeyStringValuePair[];
  logs: SpanLog[];
  /**
   * For server spans: the address the caller used to reach this server, when the span says so.
   * Used as `networkAddressUsedAtPeer` only when the parent span is not an Exit with a peer.
   */
  calledAddress: string;
}

const FAMILIES: readonly FamilyTranslator[] = [translateFaas, translateMessaging, translateRpc, translateDatabase, translateHttp, translateGenAi];

export function endpointName(name: string): string {
  return name.length > ENDPOINT_NAME_MAX ? name.slice(0, ENDPOINT_NAME_MAX) : name;
}

/** Span events → SkyWalking logs; exceptions use the keys SkyWalking agents write. */
function eventsToLogs(span: Span): SpanLog[] {
  const logs: SpanLog[] = [];
  for (const ev of span.events) {
    const data: KeyStringValuePair[] = [];
    if (ev.name === 'exception') {
      data.push({ key: 'event', value: 'error' });
      const kind = text(ev.attributes, 'exception.type');
      const message = text(ev.attributes, 'exception.message');
      const stack = text(ev.attributes, 'exception.stacktrace');
      if (kind) data.push({ key: 'error.kind', value: kind });
      if (message) data.push({ key: 'message', value: message });
      if (stack) data.push({ key: 'stack', value: stack });
    } else {
      data.push({ key: 'event', value: ev.name });
      for (const [k, v] of Object.entries(ev.attributes)) data.push({ key: k, value: attributeText(v) });
    }
    logs.push({ time: Number(ev.timeUnixNano / 1_000_000n), data });
  }
  return logs;
}

export function translateSpan(span: Span, scope: InstrumentationScope, options: TranslationOptions = DEFAULT_TRANSLATION_OPTIONS): TranslatedSpan {
  const attrs = span.attributes;
  const serverSide = span.kind === SpanKind.SERVER || span.kind === SpanKind.CONSUMER;
  const clientSide = span.kind === SpanKind.CLIENT || span.kind === SpanKind.PRODUCER;
  const ctx: SpanContext = { span, scope, attrs, serverSide, clientSide, options };

  let family;
  for (const translate of FAMILIES) {
    family = translate(ctx);
    if (family) break;
  }

  const tags: KeyStringValuePair[] = family ? [...family.tags] : [];
  const consumed = family?.consumed ?? [];
  for (const key in attrs) {
    if (consumed.includes(key) || key === SW_SPAN_ID_ATTRIBUTE) continue;
    tags.push({ key, value: attributeText(attrs[key]) });
  }
  if (span.status.code === StatusCode.ERROR && span.status.message) tags.push({ key: 'status.message', value: span.status.message });

  // The library (scope) names the component more precisely than the protocol family does.
  const componentId = componentForScope(scope.name, clientSide) ?? family?.componentId ?? Component.Unknown;
  // A client span that names the remote service (`peer.service`) has a peer even when its family
  // found no address (gRPC, Dubbo without server.address): better than losing the Exit.
  let peer = family?.peer ?? '';
  if (clientSide && !peer) peer = clientPeer(attrs) || text(attrs, 'peer.service');
  return {
    operationName: endpointName(family?.operationName || span.name || 'unnamed'),
    peer,
    layer: family?.layer ?? SpanLayer.Unknown,
    componentId,
    isError: span.status.code === StatusCode.ERROR || family?.isError === true,
    tags,
    logs: eventsToLogs(span),
    calledAddress: family?.calledAddress ?? '',
  };
}
