/** The shapes the per-family translators share. */
import type { Attributes, InstrumentationScope, Span } from '../../model/span-batch.ts';
import type { KeyStringValuePair, SpanLayer } from '../segment-object.ts';

export interface TranslationOptions {
  /** Emit SpanLayer GenAI (7). Only OAP builds from 2026-02 on know it; older ones read Unknown. */
  genAiLayer: boolean;
}

export const DEFAULT_TRANSLATION_OPTIONS: TranslationOptions = { genAiLayer: false };

export interface SpanContext {
  span: Span;
  scope: InstrumentationScope;
  attrs: Attributes;
  /** SERVER or CONSUMER. */
  serverSide: boolean;
  /** CLIENT or PRODUCER. */
  clientSide: boolean;
  options: TranslationOptions;
}

/** What one semantic-convention family says about a span. Unset fields keep the generic value. */
export interface FamilyTranslation {
  operationName?: string;
  peer?: string;
  layer: SpanLayer;
  componentId?: number;
  /** Forces the error flag on (never off: an ERROR status always wins). */
  isError?: boolean;
  /** SkyWalking tags, first in the tag list. */
  tags: KeyStringValuePair[];
  /** Attributes these tags or fields already carry; not repeated as tags. */
  consumed: readonly string[];
  /** For server spans: the address the caller used, when the span says so. */
  calledAddress?: string;
}

export type FamilyTranslator = (ctx: SpanContext) => FamilyTranslation | undefined;
