import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { asDecodeError, echo, InvalidInputError, OverloadedError } from '../errors.ts';
import { createLogger } from './logger.ts';
import { RefusalLog } from './refusal-log.ts';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: createLogger({ level: 'debug', destination }) };
}

describe('RefusalLog', () => {
  it('folds repeated warnings per refusal code, and keeps backpressure at debug', () => {
    const { lines, logger } = capture();
    const log = new RefusalLog(logger, 'an OTLP request');
    for (let i = 0; i < 50; i++) log.refused(new InvalidInputError('bad protobuf'), { transport: 'http' });
    log.refused(new InvalidInputError('x'.repeat(5000)), { transport: 'http' });
    log.refused(new OverloadedError('full'), { transport: 'http' });
    const warns = lines.filter((l) => l.level === 40);
    assert.equal(warns.length, 1, 'one warn line for 51 refusals within 10 s');
    assert.equal(warns[0]!.refusals, 1);
    assert.equal(lines.filter((l) => l.level === 20).length, 1, 'the retryable refusal at debug');
  });

  it('cuts what a sender wrote: echoed keys and long messages', () => {
    const { lines, logger } = capture();
    new RefusalLog(logger, 'a Zipkin request').refused(new InvalidInputError(`key ${'k'.repeat(4_000_000)}`), {});
    assert.ok(String(lines[0]!.error).length < 400);
    assert.equal(echo('a'.repeat(10)), 'a'.repeat(10));
    assert.equal(echo('a'.repeat(100)), `${'a'.repeat(64)}… (100 characters)`);
  });
});

describe('asDecodeError', () => {
  it('makes anything a decoder throws the sender\'s fault (400 / INVALID_ARGUMENT), never retryable', () => {
    const overflow = asDecodeError(new RangeError('Maximum call stack size exceeded'), 'the OTLP JSON request');
    assert.ok(overflow instanceof InvalidInputError);
    assert.equal(overflow.retryable, false);
    assert.equal(overflow.httpStatus, 400);
    assert.match(overflow.message, /^Cannot decode the OTLP JSON request: Maximum call stack size exceeded/);
    const full = new OverloadedError('full');
    assert.equal(asDecodeError(full, 'x'), full, 'a refusal thrown before decoding stays as it is');
  });
});
