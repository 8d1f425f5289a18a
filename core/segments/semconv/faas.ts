/** FaaS spans → layer FAAS (the OAP then skips endpoint sources for the function's service). */
import { SpanLayer } from '../segment-object.ts';
import { firstOf, text } from './attribute-lookup.ts';
import { Component } from './component-ids.ts';
import { translateHttp } from './http.ts';
import type { FamilyTranslator } from './translation.ts';

export const translateFaas: FamilyTranslator = (ctx) => {
  const { attrs, span, serverSide, clientSide } = ctx;
  const trigger = text(attrs, 'faas.trigger');
  const invoked = text(attrs, 'faas.invoked_name');
  if (serverSide && trigger) {
    const http = trigger === 'http' ? translateHttp(ctx) : undefined;
    const aws = text(attrs, 'cloud.provider') === 'aws' || ctx.scope.name.includes('aws-lambda');
    return {
      operationName: firstOf(attrs, ['faas.name']) || http?.operationName || span.name,
      layer: SpanLayer.FAAS,
      componentId: aws ? Component.AWSLambdaTrigger : undefined,
      isError: http?.isError,
      tags: [{ key: 'faas.trigger', value: trigger }, ...(http?.tags ?? [])],
      consumed: ['faas.trigger', 'faas.name', ...(http?.consumed ?? [])],
      calledAddress: http?.calledAddress,
    };
  }
  if (clientSide && invoked) {
    const provider = text(attrs, 'faas.invoked_provider');
    return {
      operationName: `${provider ? `${provider}/` : ''}${invoked}`,
      peer: invoked,
      layer: SpanLayer.FAAS,
      tags: [],
      consumed: ['faas.invoked_name', 'faas.invoked_provider'],
    };
  }
  return undefined;
};
