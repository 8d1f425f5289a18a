/**
 * Which offset of one partition may be committed. Messages are handed downstream in offset order
 * but finish in any order (a trace's spans wait in the trace buffer until the trace is exported),
 * so the commit point is the lowest offset not yet finished: everything below it is exported or
 * deliberately dropped, and a restart resumes there. Kafka's committed offset is "the next one to
 * read", so `committable` is that lowest unfinished offset, or one past the highest finished.
 */
export class PartitionOffsets {
  /** Offsets handed out and not yet known finished, ascending, with finished ones at the front removed. */
  #offsets: number[] = [];
  #done: boolean[] = [];
  #head = 0;
  /** One past the highest offset of the contiguous finished run; -1 before anything finished. */
  #next = -1;
  #committed = -1;

  /** Offsets taken and not yet finished. */
  get inFlight(): number {
    let n = 0;
    for (let i = this.#head; i < this.#offsets.length; i++) if (!this.#done[i]) n++;
    return n;
  }

  /** A message was handed downstream. Offsets must come in ascending order. */
  begin(offset: number): void {
    const last = this.#offsets.length > this.#head ? this.#offsets[this.#offsets.length - 1]! : this.#next - 1;
    if (offset <= last) throw new Error(`offset ${offset} is not above ${last}`);
    this.#offsets.push(offset);
    this.#done.push(false);
  }

  /** The message at `offset` was exported or deliberately dropped. */
  finish(offset: number): void {
    // Usually near the front; a linear scan from the head is cheap for bounded in-flight counts.
    for (let i = this.#head; i < this.#offsets.length; i++) {
      if (this.#offsets[i] === offset) {
        this.#done[i] = true;
        break;
      }
    }
    while (this.#head < this.#offsets.length && this.#done[this.#head]) {
      this.#next = this.#offsets[this.#head]! + 1;
      this.#head++;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#offsets.length) {
      this.#offsets = this.#offsets.slice(this.#head);
      this.#done = this.#done.slice(this.#head);
      this.#head = 0;
    }
  }

  /** The offset to commit now, or undefined when it has not moved since `committed` was called. */
  committable(): number | undefined {
    if (this.#next < 0 || this.#next === this.#committed) return undefined;
    return this.#next;
  }

  /** Record that `offset` was committed. */
  committed(offset: number): void {
    if (offset > this.#committed) this.#committed = offset;
  }
}
