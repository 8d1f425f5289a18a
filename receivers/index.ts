/** Every receiver skybridge ships, listed explicitly (no registration by import side effect). */
import type { ReceiverFactory } from '../core/component.ts';
import { jaegerReceiverFactory } from './jaeger/factory.ts';
import { kafkaReceiverFactory } from './kafka/factory.ts';
import { otlpReceiverFactory } from './otlp/factory.ts';
import { w3cReceiverFactory } from './w3c/factory.ts';
import { zipkinReceiverFactory } from './zipkin/factory.ts';

export const receiverFactories: readonly ReceiverFactory[] = [
  otlpReceiverFactory as unknown as ReceiverFactory,
  jaegerReceiverFactory as unknown as ReceiverFactory,
  zipkinReceiverFactory as unknown as ReceiverFactory,
  w3cReceiverFactory as unknown as ReceiverFactory,
  kafkaReceiverFactory as unknown as ReceiverFactory,
];
