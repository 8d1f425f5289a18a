/** Every exporter skybridge ships, listed explicitly (no registration by import side effect). */
import type { ExporterFactory } from '../core/component.ts';
import { debugExporterFactory } from './debug/factory.ts';
import { kafkaExporterFactory } from './kafka/factory.ts';
import { loadbalancingExporterFactory } from './loadbalancing/factory.ts';
import { skywalkingExporterFactory } from './skywalking/factory.ts';
import { skywalkingKafkaExporterFactory } from './skywalking_kafka/factory.ts';

export const exporterFactories: readonly ExporterFactory[] = [
  skywalkingExporterFactory as unknown as ExporterFactory,
  debugExporterFactory as unknown as ExporterFactory,
  kafkaExporterFactory as unknown as ExporterFactory,
  skywalkingKafkaExporterFactory as unknown as ExporterFactory,
  loadbalancingExporterFactory as unknown as ExporterFactory,
];
