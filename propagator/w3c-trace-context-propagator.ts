/**
 * W3C Trace Context extraction by the letter of the spec, with skybridge's own codecs
 * (core/propagation/traceparent.ts, tracestate.ts). The OpenTelemetry JS propagator keeps a
 * tracestate the spec says to discard (more than 32 members, illegal keys or values); the W3C test
 * harness fails it on exactly those cases. Injection is OpenTelemetry's, which writes what the
 * validated context holds.
 */
import { context as contextApi, trace, TraceFlags, type Context, type TextMapGetter, type TextMapPropagator, type TextMapSetter, type TraceState } from '@opentelemetry/api';
import { W3CTraceContextPropagator as OtelW3CTraceContextPropagator } from '@opentelemetry/core';
import { parseTraceparent } from '../core/propagation/traceparent.ts';
import {
  deleteTracestateEntry,
  parseTracestate,
  serializeTracestate,
  setTracestateEntry,
  type TracestateEntry,
} from '../core/propagation/tracestate.ts';

/**
 * An immutable TraceState over already validated entries. OpenTelemetry's own TraceState re-parses
 * with the older key grammar and silently drops keys Trace Context Level 2 allows (`foo@`).
 */
class ValidatedTraceState implements TraceState {
  readonly #entries: readonly TracestateEntry[];
  constructor(entries: readonly TracestateEntry[]) {
    this.#entries = entries;
  }
  set(key: string, value: string): TraceState {
    return new ValidatedTraceState(setTracestateEntry(this.#entries, key, value));
  }
  unset(key: string): TraceState {
    return new ValidatedTraceState(deleteTracestateEntry(this.#entries, key));
  }
  get(key: string): string | undefined {
    return this.#entries.find((e) => e.key === key)?.value;
  }
  serialize(): string {
    return serializeTracestate(this.#entries);
  }
}

export class W3CTraceContextPropagator implements TextMapPropagator {
  readonly #inject = new OtelW3CTraceContextPropagator();

  inject(context: Context, carrier: unknown, setter: TextMapSetter): void {
    this.#inject.inject(context, carrier, setter);
  }

  extract(context: Context, carrier: unknown, getter: TextMapGetter): Context {
    const parent = parseTraceparent(getter.get(carrier, 'traceparent'));
    if (!parent) return context;
    // An invalid tracestate is discarded whole (Trace Context §3.3.1.4); the traceparent still holds.
    const state = parseTracestate(getter.get(carrier, 'tracestate'));
    const traceState = state.ok && state.entries.length > 0 ? new ValidatedTraceState(state.entries) : undefined;
    return trace.setSpanContext(context ?? contextApi.active(), {
      traceId: parent.traceId,
      spanId: parent.parentId,
      // Keep every flag bit as received (the random-trace-id flag 0x02 included).
      traceFlags: parent.traceFlags & 0xff || TraceFlags.NONE,
      isRemote: true,
      ...(traceState ? { traceState } : {}),
    });
  }

  fields(): string[] {
    return ['traceparent', 'tracestate'];
  }
}
