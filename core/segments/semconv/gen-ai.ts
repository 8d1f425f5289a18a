/**
 * GenAI client spans. Layer GenAI (7) only when the target OAP knows it (`gen_ai_layer: true`);
 * older OAPs would read it as Unknown anyway, so by default the layer stays Unknown and the
 * `gen_ai.*` attributes travel as tags.
 */
import { SpanLayer } from '../segment-object.ts';
import { clientPeer, firstOf, text } from './attribute-lookup.ts';
import type { FamilyTranslator } from './translation.ts';

export const translateGenAi: FamilyTranslator = (ctx) => {
  const { attrs, span, clientSide } = ctx;
  const provider = firstOf(attrs, ['gen_ai.provider.name', 'gen_ai.system']);
  if (!provider) return undefined;
  const operation = text(attrs, 'gen_ai.operation.name');
  const model = text(attrs, 'gen_ai.request.model');
  return {
    operationName: operation && model ? `${operation} ${model}` : span.name,
    peer: clientSide ? clientPeer(attrs) || provider : undefined,
    layer: ctx.options.genAiLayer ? SpanLayer.GenAI : SpanLayer.Unknown,
    tags: [],
    consumed: [],
  };
};
