// A worker thread's entry: registers tsx so the TypeScript sources run as they are (as
// bin/skybridge.mjs does for the main thread; module hooks are per thread), then runs the worker.
import { register } from 'tsx/esm/api';

register();
await import('./worker-thread.ts');
