import { otlpConfigSchema } from './config.ts';
console.log(JSON.stringify(otlpConfigSchema.parse({})));
console.log(JSON.stringify(otlpConfigSchema.parse({ grpc: null, http: { max_request_body_size: '1MiB' } })));
console.log(otlpConfigSchema.safeParse({ grpc: null, http: null }).error?.issues);
console.log(otlpConfigSchema.safeParse({ grpc: { foo: 1 } }).error?.issues);
console.log(otlpConfigSchema.safeParse({ http: { path: 'x' } }).error?.issues);
