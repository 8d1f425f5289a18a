import { backoffDelayMs } from '../../core/retry/backoff.ts';
import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { ComponentSettings, Host, Receiver } from '../../core/component.ts';
import type { ConsumeContext, TraceConsumer } from '../../core/consumer.ts';
import { asSkybridgeError } from '../../core/errors.ts';
import { createKafka } from '../../core/kafka/client.ts';
import { traceIdsOf } from '../../core/model/span-batch.ts';
import { BurstLog } from '../../core/telemetry/burst-log.ts';
import { decodeProtobufTraces } from '../otlp/decode-protobuf.ts';
import type { DecodedTraces } from '../otlp/decoded-traces.ts';
import type { KafkaReceiverConfig } from './config.ts';
import { PartitionOffsets } from './partition-offsets.ts';

/** What this member tracks for one assigned partition, for one group generation. */
interface PartitionState {
  readonly partition: number;
  readonly offsets: PartitionOffsets;
  /** Trace ids of each message in flight, by offset: what to abandon if the partition is revoked. */
  readonly traces: Map<number, ReadonlySet<string>>;
  /** Messages of this partition the pipeline refused and that wait for their retry. */
  retrying: number;
  paused: boolean;
  /**
   * Offsets below this were finished by this member in its previous generation and never
   * committed: read again, they are not handed on but count as finished (see #onGroupJoin).
   */
  readonly finishedBelow: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/**
 * The gateway side of a Kafka tier. Consumes OTLP protobuf messages in a consumer group, hands each
 * message's spans to the pipeline at once (without waiting for the previous message), and commits
 * per partition the highest offset below which every message finished: its spans were exported or
 * deliberately dropped. Ack point: a message counts as finished when `next.consume` resolved, so the
 * gateway pipeline must acknowledge after export (`skywalking` exporter with `ack: after_export`);
 * otherwise spans waiting in the trace buffer would be committed and lost in a crash.
 *
 * - A retryable refusal pauses the partition and retries the message with backoff until it is taken;
 *   the partition resumes once none of its messages waits for a retry.
 * - A permanent refusal, or a message that does not decode, is counted as a drop and finishes (a
 *   poison message must not block its partition forever).
 * - On every rebalance all tracking starts over: messages still in flight from before finish
 *   without commit, and every assigned partition is read again from its last commit (kafkajs does
 *   that after each join). For partitions this member lost, the pipeline is told to abandon the
 *   messages' traces (`TraceConsumer.abandon`): held spans are dropped undecided and unexported, so
 *   the new owner decides and exports them once. For partitions it kept, the re-read spans meet
 *   their held copies and are recognised as duplicates, and the messages it had finished without
 *   getting them committed are skipped. What was already being exported when the group rebalanced
 *   may reach the OAP twice, with the same segment ids.
 * - A commit counts once the broker acknowledged it (kafkajs's COMMIT_OFFSETS event), never on
 *   `commitOffsets` resolving alone.
 */
export class KafkaReceiver implements Receiver {
  readonly #settings: ComponentSettings;
  readonly #config: KafkaReceiverConfig;
  readonly #next: TraceConsumer;
  readonly #kafka: Kafka;
  readonly #ctx: ConsumeContext;
  #consumer: Consumer | undefined;
  /** Current generation's partitions; replaced wholesale on every group join. */
  #partitions = new Map<number, PartitionState>();
  /**
   * The finished, uncommitted runs' ends of the partitions a replaced consumer held (see
   * #onGroupJoin), for the replacement's first join.
   */
  #carriedOver = new Map<number, number>();
  #inFlight = 0;
  #slotWaiters: (() => void)[] = [];
  #idleWaiters: (() => void)[] = [];
  #commitTimer: NodeJS.Timeout | undefined;
  #committing: Promise<void> | undefined;
  #closing = false;
  #running: Promise<void> | undefined;
  readonly #dropLog = new BurstLog();
  readonly #retryLog = new BurstLog();

  constructor(settings: ComponentSettings, config: KafkaReceiverConfig, next: TraceConsumer) {
    this.#settings = settings;
    this.#config = config;
    this.#next = next;
    this.#ctx = { receiver: settings.id, transport: 'kafka' };
    // 15 retries (100 ms doubling to 2 s: about 23 s) ride out a broker restart without the
    // consumer crashing. A crashed kafkajs consumer restarts as a NEW group member: the coordinator
    // then holds the group for a session timeout waiting for the old member, the partitions may
    // move, and their next owners re-read what this member exported but could not commit meanwhile.
    // A consumer still retrying when the broker is back heartbeats as the same member (a restarted
    // broker reloads its groups with their members) and commits as if nothing happened.
    this.#kafka = createKafka(settings.logger, { brokers: config.brokers, clientId: config.client_id, retries: 15, tls: config.tls, auth: config.auth });
  }

  describe(): string[] {
    const c = this.#config;
    return [`Kafka topic "${c.topic}" at ${c.brokers.join(',')} (group ${c.group_id}, commits after the pipeline finished each message)`];
  }

  /** Messages handed to the pipeline and not yet finished or abandoned. */
  get inFlight(): number {
    return this.#inFlight;
  }

  async start(_host: Host): Promise<void> {
    this.#settings.metrics.queueCapacity.set({ component: this.#settings.id, queue: 'in_flight_messages' }, this.#config.max_in_flight_messages);
    // Connecting may wait for Kafka to come up; start resolves at once and the consumer joins when it can.
    this.#running = this.#connectAndRun();
    this.#commitTimer = setInterval(() => void this.#commit(), this.#config.commit_interval);
    this.#commitTimer.unref();
  }

  #createConsumer(): Consumer {
    const c = this.#config;
    const consumer = this.#kafka.consumer({
      groupId: c.group_id,
      sessionTimeout: c.session_timeout,
      heartbeatInterval: c.heartbeat_interval,
      rebalanceTimeout: c.rebalance_timeout,
      maxWaitTimeInMs: c.max_fetch_wait,
      allowAutoTopicCreation: false,
      retry: { retries: 10, initialRetryTime: 300, maxRetryTime: 10_000, restartOnFailure: async () => !this.#closing },
    });
    consumer.on(consumer.events.GROUP_JOIN, (event) => this.#onGroupJoin(event.payload.memberAssignment));
    // The only proof that a commit reached the broker: kafkajs's commitOffsets also resolves, having
    // sent nothing, while its runner is not running (a crash being restarted, a rejoin).
    consumer.on(consumer.events.COMMIT_OFFSETS, (event) => {
      for (const { topic, partitions } of event.payload.topics) {
        if (topic !== this.#config.topic) continue;
        for (const { partition, offset } of partitions) this.#partitions.get(Number(partition))?.offsets.committed(Number(offset));
      }
    });
    // A rebalance is starting: commit what finished now, while this member still owns its
    // partitions (a broker accepts the current generation's commits until the group re-forms), so
    // the next owners re-read as little as possible of what was already exported.
    consumer.on(consumer.events.REBALANCING, () => void this.#commit());
    consumer.on(consumer.events.CRASH, (event) => {
      if (this.#closing || consumer !== this.#consumer) return;
      const { error, restart } = event.payload;
      this.#settings.logger.error({ error, restart }, restart ? 'Kafka consumer crashed; kafkajs restarts it.' : 'Kafka consumer crashed on a non-retriable error; starting a new one.');
      // kafkajs gives up on non-retriable errors (e.g. a SyncGroup refused during a rebalance);
      // a gateway must not sit idle in that case, so it starts over with a fresh consumer.
      if (!restart) {
        this.#onGroupJoin({}, false);
        this.#running = (async () => {
          await consumer.disconnect().catch(() => undefined);
          await sleep(1_000);
          await this.#connectAndRun();
        })();
      }
    });
    return consumer;
  }

  async #connectAndRun(): Promise<void> {
    for (let attempt = 1; !this.#closing; attempt++) {
      const consumer = this.#createConsumer();
      this.#consumer = consumer;
      try {
        await consumer.connect();
        await consumer.subscribe({ topic: this.#config.topic, fromBeginning: this.#config.initial_offset === 'earliest' });
        await consumer.run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          partitionsConsumedConcurrently: 4,
          eachBatch: (payload) => this.#eachBatch(payload),
        });
        return;
      } catch (error) {
        if (this.#closing) return;
        this.#settings.logger.warn({ error, attempt }, 'Kafka consumer could not join its group yet; retrying.');
        await consumer.disconnect().catch(() => undefined);
        await sleep(Math.min(10_000, 500 * attempt));
      }
    }
  }

  /** A (re)join of the group, or a consumer replaced after a crash (`assignment` empty). */
  #onGroupJoin(assignment: Record<string, number[]>, joined = true): void {
    const { metrics, id } = this.#settings;
    if (joined) metrics.kafkaConsumerEvents.inc({ component: id, event: 'rebalance' });
    const assigned = new Set(assignment[this.#config.topic] ?? []);
    metrics.kafkaAssignedPartitions.set({ component: id }, assigned.size);
    let abandoned = 0;
    const abandonedTraces = new Set<string>();
    /** Kept partitions: where the run of messages this member finished ends, if it was not committed. */
    const finishedBelow = new Map<number, number>();
    if (joined) {
      for (const [partition, end] of this.#carriedOver) if (assigned.has(partition)) finishedBelow.set(partition, end);
      this.#carriedOver.clear();
    }
    for (const state of this.#partitions.values()) {
      const end = state.offsets.committable();
      if (assigned.has(state.partition)) {
        if (end !== undefined) finishedBelow.set(state.partition, end);
        continue;
      }
      // A consumer replaced after a crash: its replacement may get the partition back.
      if (!joined && end !== undefined) this.#carriedOver.set(state.partition, end);
      abandoned += state.traces.size;
      for (const traceIds of state.traces.values()) for (const traceId of traceIds) abandonedTraces.add(traceId);
    }
    if (abandoned > 0) metrics.kafkaConsumerEvents.inc({ component: id, event: 'abandoned' }, abandoned);
    // Before the new generation's first message: nothing of these traces may leave this member.
    if (abandonedTraces.size > 0) this.#next.abandon?.(abandonedTraces);
    // kafkajs re-reads every assigned partition from its committed offset after a join, so the
    // tracking of retained partitions starts over too; in-flight messages of the old generation no
    // longer find their state and finish without committing. Of a retained partition, the messages
    // this member already finished and could not commit (the coordinator was unreachable, e.g. a
    // broker restart) are exported: handing them on again would export them twice, so they are
    // skipped and committed. Everything below that run's end was finished here or committed before,
    // so this keeps at-least-once; if another member committed further meanwhile, kafkajs starts
    // there and nothing is skipped. The same holds for the partitions a crashed consumer held, when
    // its replacement's first join assigns them again.
    this.#partitions = new Map();
    for (const [partition, end] of finishedBelow) this.#state(partition, end);
    this.#settings.logger.info(
      { partitions: [...assigned], abandonedMessages: abandoned, abandonedTraces: abandonedTraces.size, finishedUncommitted: Object.fromEntries(finishedBelow) },
      'Joined the Kafka consumer group.',
    );
  }

  #state(partition: number, finishedBelow = -1): PartitionState {
    let state = this.#partitions.get(partition);
    if (state === undefined) {
      state = { partition, offsets: new PartitionOffsets(), traces: new Map(), retrying: 0, paused: false, finishedBelow };
      this.#partitions.set(partition, state);
    }
    return state;
  }

  async #eachBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const state = this.#state(batch.partition);
    const current = () => !this.#closing && isRunning() && !isStale() && this.#partitions.get(batch.partition) === state && !state.paused;
    for (const message of batch.messages) {
      while (this.#inFlight >= this.#config.max_in_flight_messages) {
        await this.#slot(1_000);
        await heartbeat();
        if (!current()) return;
      }
      // Unresolved messages are fetched again once the partition resumes or the member rejoins.
      if (!current()) return;
      const offset = Number(message.offset);
      state.offsets.begin(offset);
      if (offset < state.finishedBelow) {
        // Exported in the previous generation, not committed: finished now, not handed on again.
        resolveOffset(message.offset);
        state.offsets.finish(offset);
        continue;
      }
      this.#inFlight++;
      this.#settings.metrics.queueSize.set({ component: this.#settings.id, queue: 'in_flight_messages' }, this.#inFlight);
      resolveOffset(message.offset);
      this.#settings.metrics.kafkaMessages.inc({ component: this.#settings.id, topic: batch.topic, outcome: 'consumed' });
      void this.#handle(state, offset, message.value);
    }
    await heartbeat();
  }

  #slot(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.#slotWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Decodes one message, hands it on until taken, and records it finished (or abandoned). */
  async #handle(state: PartitionState, offset: number, value: Buffer | null): Promise<void> {
    const { metrics, id, logger } = this.#settings;
    try {
      let decoded: DecodedTraces;
      try {
        decoded = decodeProtobufTraces(value ?? Buffer.alloc(0));
      } catch (error) {
        metrics.kafkaMessages.inc({ component: id, topic: this.#config.topic, outcome: 'undecodable' });
        const count = this.#dropLog.take();
        if (count !== undefined) logger.warn({ error, partition: state.partition, offset, messages: count }, 'Skipped Kafka messages that are not OTLP protobuf.');
        return this.#finish(state, offset);
      }
      metrics.recordDrop(id, 'invalid_input', decoded.rejectedSpans);
      if (decoded.spanCount === 0) return this.#finish(state, offset);
      state.traces.set(offset, traceIdsOf(decoded.batch));
      if (!(await this.#consumeUntilTaken(state, decoded))) return;
      this.#finish(state, offset);
    } finally {
      state.traces.delete(offset);
      this.#inFlight--;
      metrics.queueSize.set({ component: id, queue: 'in_flight_messages' }, this.#inFlight);
      this.#slotWaiters.shift()?.();
      if (this.#inFlight === 0) for (const resolve of this.#idleWaiters.splice(0)) resolve();
    }
  }

  /** True once the pipeline took (or permanently refused) the spans; false if the message was abandoned. */
  async #consumeUntilTaken(state: PartitionState, decoded: DecodedTraces): Promise<boolean> {
    const { metrics, id, logger } = this.#settings;
    const backoff = this.#config.error_backoff;
    let waitingForRetry = false;
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          await this.#next.consume(decoded.batch, this.#ctx);
          return true;
        } catch (err) {
          const error = asSkybridgeError(err);
          if (!error.retryable) {
            // Nobody can resend a Kafka message: the spans are lost to this pipeline, counted.
            metrics.recordDrop(id, 'refused_downstream', decoded.spanCount);
            logger.warn({ code: error.code, error: error.message, spans: decoded.spanCount }, 'The pipeline refused spans from Kafka permanently; they are dropped and their offset committed.');
            return true;
          }
          if (this.#closing || this.#partitions.get(state.partition) !== state) return false;
          if (!waitingForRetry) {
            waitingForRetry = true;
            state.retrying++;
            this.#pause(state);
          }
          const count = this.#retryLog.take();
          if (count !== undefined) logger.info({ code: error.code, error: error.message, partition: state.partition, refusals: count }, 'The pipeline refused spans from Kafka for now; partition paused, retrying.');
          const delay = backoffDelayMs({ initialIntervalMs: backoff.initial_interval, maxIntervalMs: backoff.max_interval }, attempt);
          await sleep(Math.max(error.retryAfterMs ?? 0, delay));
          if (this.#closing || this.#partitions.get(state.partition) !== state) return false;
        }
      }
    } finally {
      if (waitingForRetry) {
        state.retrying--;
        if (state.retrying === 0) this.#resume(state);
      }
    }
  }

  #pause(state: PartitionState): void {
    if (state.paused) return;
    state.paused = true;
    this.#consumer?.pause([{ topic: this.#config.topic, partitions: [state.partition] }]);
    this.#settings.metrics.kafkaConsumerEvents.inc({ component: this.#settings.id, event: 'partition_paused' });
  }

  #resume(state: PartitionState): void {
    if (!state.paused) return;
    state.paused = false;
    if (this.#partitions.get(state.partition) !== state || this.#closing) return;
    this.#consumer?.resume([{ topic: this.#config.topic, partitions: [state.partition] }]);
    this.#settings.metrics.kafkaConsumerEvents.inc({ component: this.#settings.id, event: 'partition_resumed' });
  }

  #finish(state: PartitionState, offset: number): void {
    this.#settings.metrics.kafkaMessages.inc({ component: this.#settings.id, topic: this.#config.topic, outcome: 'completed' });
    // A message of a generation that ended does not move anything: its partition is re-read.
    if (this.#partitions.get(state.partition) === state) state.offsets.finish(offset);
  }

  /** Commits every partition whose finished run moved; one commit at a time. */
  #commit(): Promise<void> {
    if (this.#committing !== undefined) return this.#committing;
    const run = (async () => {
      // One tick first, so `#committing` is set before the body can finish and clear it.
      await Promise.resolve();
      try {
        const consumer = this.#consumer;
        if (consumer === undefined) return;
        const commits: { topic: string; partition: number; offset: string }[] = [];
        const states: [PartitionState, number][] = [];
        for (const state of this.#partitions.values()) {
          const offset = state.offsets.committable();
          if (offset === undefined) continue;
          commits.push({ topic: this.#config.topic, partition: state.partition, offset: String(offset) });
          states.push([state, offset]);
        }
        if (commits.length === 0) return;
        try {
          await consumer.commitOffsets(commits);
          // The COMMIT_OFFSETS listener marked what the broker took; kafkajs skips the request
          // (and resolves) while its runner is not running. The next round tries again.
          if (states.some(([state, offset]) => state.offsets.committable() === offset)) throw new Error('kafkajs did not send the commit (consumer not running).');
          this.#settings.metrics.kafkaConsumerEvents.inc({ component: this.#settings.id, event: 'commit' });
        } catch (error) {
          // Usually a rebalance in progress; the next round (or the partition's next owner) commits.
          this.#settings.metrics.kafkaConsumerEvents.inc({ component: this.#settings.id, event: 'commit_failed' });
          this.#settings.logger.debug({ error }, 'Committing Kafka offsets failed; retrying next round.');
        }
      } finally {
        this.#committing = undefined;
      }
    })();
    this.#committing = run;
    return run;
  }

  #shutdown: Promise<void> | undefined;

  /**
   * Stops fetching, waits (until `deadline`) for messages in flight to finish, commits what
   * finished, and leaves the group. Unfinished messages are not committed: the next owner reads them.
   */
  shutdown(deadline: AbortSignal): Promise<void> {
    return (this.#shutdown ??= (async () => {
      this.#closing = true;
      clearInterval(this.#commitTimer);
      const consumer = this.#consumer;
      if (consumer === undefined) return;
      for (const resolve of this.#slotWaiters.splice(0)) resolve();
      try {
        consumer.pause([{ topic: this.#config.topic }]);
      } catch {
        // Not running yet: nothing is fetched anyway.
      }
      const aborted = new Promise<void>((resolve) => {
        if (deadline.aborted) resolve();
        else deadline.addEventListener('abort', () => resolve(), { once: true });
      });
      if (this.#inFlight > 0) await Promise.race([new Promise<void>((resolve) => this.#idleWaiters.push(resolve)), aborted]);
      await Promise.race([this.#commit(), aborted]);
      await Promise.race([consumer.disconnect().catch(() => undefined), aborted]);
      await Promise.race([this.#running, aborted]);
    })());
  }
}
