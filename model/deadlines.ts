/**
 * Deadlines for calls and channel requests, cheaper than one `setTimeout` per call.
 *
 * Calls with the same timeout expire in the order they started, so each distinct duration keeps
 * a doubly linked FIFO list and one timer armed for its head: adding and cancelling are O(1)
 * and cancelled entries are freed at once (a `setTimeout` + `clearTimeout` pair costs ~250 ns on
 * these machines; this costs a fraction of that, which matters at millions of calls per second).
 */
import { MAX_DURATION_MS } from "./durations.js";

/**
 * The longest one timer callback may spend expiring deadlines before it yields to the event
 * loop. 100 000 calls timing out together took 0.7–1 s of CPU in one callback (a `CallTimeoutError`
 * each, their rejections, the callers' handlers) and stalled the loop 129–241 ms (issue 19); in
 * slices of this budget (2 ms: at 3 ms, a turn with the reactions that follow a slice reached 10 ms
 * of CPU), plus the rejections' microtasks that follow each slice, the loop keeps
 * turning. The clock is read once per `CHECK_EVERY` expiries, so checking costs next to nothing.
 */
const SLICE_MS = 2;
const CHECK_EVERY = 32;

/** What a deadline calls when it expires (an object, so no closure is allocated per call). */
export interface Expirable {
  expire(): void;
}

export interface Deadline {
  /** Cancels the deadline; idempotent. */
  cancel(): void;
}

class Entry implements Deadline {
  prev: Entry | undefined;
  next: Entry | undefined;
  constructor(
    readonly list: DurationList,
    readonly at: number,
    readonly target: Expirable,
  ) {}

  cancel(): void {
    this.list.unlink(this);
  }
}

class DurationList {
  constructor(readonly onEmpty: () => void) {}
  head: Entry | undefined;
  tail: Entry | undefined;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** Whether `timer` keeps the process alive (it does while entries wait). */
  referenced = true;
  unrefScheduled = false;
  /** A slice of expiries is scheduled to continue (with `setImmediate`); no timer is armed meanwhile. */
  continuing = false;

  push(entry: Entry): void {
    if (this.tail === undefined) {
      this.head = this.tail = entry;
      if (this.timer === undefined) this.arm();
      else if (!this.referenced) {
        this.timer.ref();
        this.referenced = true;
      }
    } else {
      entry.prev = this.tail;
      this.tail.next = entry;
      this.tail = entry;
    }
  }

  unlink(entry: Entry): void {
    if (entry.prev === undefined && this.head !== entry) return; // already gone
    if (entry.prev) entry.prev.next = entry.next;
    else this.head = entry.next;
    if (entry.next) entry.next.prev = entry.prev;
    else this.tail = entry.prev;
    entry.prev = entry.next = undefined;
    // The timer is left armed when the list empties: re-arming on every call would cost a
    // setTimeout per call in sequential use. It fires at most once per period and re-arms only
    // if entries remain; meanwhile it must not keep the process alive. Unref-ing is deferred to
    // the next turn of the event loop, so a burst of back-to-back calls toggles nothing.
    if (this.head === undefined && this.timer !== undefined && this.referenced && !this.unrefScheduled) {
      this.unrefScheduled = true;
      setImmediate(() => {
        this.unrefScheduled = false;
        if (this.head === undefined && this.timer !== undefined) {
          this.timer.unref();
          this.referenced = false;
        }
      }).unref();
    }
  }

  arm(): void {
    if (this.timer !== undefined || this.continuing || this.head === undefined) return;
    const wait = Math.max(0, this.head.at - Date.now());
    this.timer = setTimeout(() => this.fire(), wait);
    this.referenced = true;
  }

  fire(): void {
    this.timer = undefined;
    if (this.head === undefined) {
      this.onEmpty();
      return;
    }
    const now = Date.now();
    const stopAt = performance.now() + SLICE_MS;
    let expired = 0;
    let entry = this.head;
    while (entry !== undefined && entry.at <= now) {
      this.unlink(entry);
      entry.target.expire();
      entry = this.head;
      if (++expired % CHECK_EVERY === 0 && entry !== undefined && performance.now() >= stopAt) {
        // Out of budget: let I/O, other timers and the rejections' handlers run, then go on
        // with the rest, still in order (a new slice reads the clock again).
        this.continuing = true;
        setImmediate(() => {
          this.continuing = false;
          this.fire();
        });
        return;
      }
    }
    this.arm();
  }
}

/**
 * The clock for new deadlines, read from `Date.now()` once per 32 deadlines and on every new
 * turn of the event loop, instead of once per call (the reads were a fifth of an asynchronous
 * call's cost). A deadline computed from an older reading fires early by the reading's age:
 * normally the few microseconds that 32 calls take; only a long synchronous stretch of code
 * between two calls in the same turn can make it more, and then by that stretch.
 */
let clock = Date.now();
let readsLeft = 0;
let refreshScheduled = false;

function coarseNow(): number {
  if (readsLeft-- <= 0) {
    clock = Date.now();
    readsLeft = 32;
    if (!refreshScheduled) {
      refreshScheduled = true;
      setImmediate(() => {
        refreshScheduled = false;
        readsLeft = 0;
      }).unref();
    }
  }
  return clock;
}

/** A set of deadlines sharing timers. */
export class Deadlines {
  readonly #lists = new Map<number, DurationList>();

  /** Calls `target.expire()` after `ms` milliseconds unless the returned deadline is cancelled first. */
  add(ms: number, target: Expirable | (() => void)): Deadline {
    // Timers take at most 2^31-1 ms; a longer wait would fire (and re-arm) every millisecond.
    if (!(ms <= MAX_DURATION_MS)) ms = Number.isNaN(ms) ? 0 : MAX_DURATION_MS;
    let list = this.#lists.get(ms);
    if (list === undefined) {
      list = new DurationList(() => this.#lists.delete(ms));
      this.#lists.set(ms, list);
    }
    const entry = new Entry(
      list,
      coarseNow() + ms,
      typeof target === "function" ? { expire: target } : target,
    );
    list.push(entry);
    return entry;
  }
}

/** The process-wide deadline set used by channels and hubs. */
export const deadlines = new Deadlines();
