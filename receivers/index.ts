/** Every receiver skybridge ships, listed explicitly (no registration by import side effect). */
import type { ReceiverFactory } from '../core/component.ts';
import { otlpReceiverFactory } from './otlp/factory.ts';

export const receiverFactories: readonly ReceiverFactory[] = [otlpReceiverFactory as unknown as ReceiverFactory];
