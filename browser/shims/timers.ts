// Node-style timers for the browser bundle. beamhub's core calls `timer.unref()` and
// `setImmediate`, which browsers lack; browser/build.ts injects these in place of the globals
// (inside the bundle only: the page's own globals are untouched). Timers are objects with
// no-op `ref`/`unref`, and convert to the browser's numeric id.

type Callback = (...args: unknown[]) => void;

class Timer {
  constructor(
    readonly id: number,
    readonly cancel: (id: number) => void,
  ) {}
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
  hasRef(): boolean {
    return true;
  }
  refresh(): this {
    return this;
  }
  [Symbol.toPrimitive](): number {
    return this.id;
  }
}

type TimerLike = Timer | number | undefined | null;

const native = {
  setTimeout: globalThis.setTimeout.bind(globalThis) as unknown as (
    fn: Callback,
    ms?: number,
    ...args: unknown[]
  ) => number,
  setInterval: globalThis.setInterval.bind(globalThis) as unknown as (
    fn: Callback,
    ms?: number,
    ...args: unknown[]
  ) => number,
  clearTimeout: globalThis.clearTimeout.bind(globalThis) as unknown as (id: number) => void,
  clearInterval: globalThis.clearInterval.bind(globalThis) as unknown as (id: number) => void,
};

function idOf(timer: TimerLike): number | undefined {
  if (timer === undefined || timer === null) return undefined;
  return typeof timer === "number" ? timer : timer.id;
}

function shimSetTimeout(fn: Callback, ms?: number, ...args: unknown[]): Timer {
  return new Timer(native.setTimeout(fn, ms, ...args), native.clearTimeout);
}

function shimSetInterval(fn: Callback, ms?: number, ...args: unknown[]): Timer {
  return new Timer(native.setInterval(fn, ms, ...args), native.clearInterval);
}

function shimClearTimeout(timer: TimerLike): void {
  const id = idOf(timer);
  if (id !== undefined) native.clearTimeout(id);
}

function shimClearInterval(timer: TimerLike): void {
  const id = idOf(timer);
  if (id !== undefined) native.clearInterval(id);
}

// setImmediate: a macrotask that runs after pending I/O events, without setTimeout's 4 ms
// clamp (a MessageChannel message, as the usual polyfills do).
let nextImmediate = 1;
const immediates = new Map<number, () => void>();
const channel = new MessageChannel();
(channel.port1 as unknown as { onmessage: (event: { data: number }) => void }).onmessage = (event) => {
  const run = immediates.get(event.data);
  if (run === undefined) return;
  immediates.delete(event.data);
  run();
};

function shimSetImmediate(fn: Callback, ...args: unknown[]): Timer {
  const id = nextImmediate++;
  immediates.set(id, () => fn(...args));
  channel.port2.postMessage(id);
  return new Timer(id, (cancelled) => immediates.delete(cancelled));
}

function shimClearImmediate(timer: TimerLike): void {
  const id = idOf(timer);
  if (id !== undefined) immediates.delete(id);
}

export {
  shimSetTimeout as setTimeout,
  shimSetInterval as setInterval,
  shimClearTimeout as clearTimeout,
  shimClearInterval as clearInterval,
  shimSetImmediate as setImmediate,
  shimClearImmediate as clearImmediate,
};
