/**
 * Counts the web streams (`ReadableStream`, `WritableStream`) made while each test of a file
 * runs, for the tests that check a byte stream makes none until someone reads it. Call
 * {@link countWebStreams} once at the top of the test file: it swaps the globals for counting
 * subclasses before each test and puts the native ones back after it.
 */
import { afterEach, beforeEach } from "vitest";

/** The counts of the current test; reset to 0 before each test (a test may also reset them). */
export interface WebStreamCount {
  readable: number;
  writable: number;
}

/** Installs the counting globals around every test of the calling file; returns the counts. */
export function countWebStreams(): WebStreamCount {
  const made: WebStreamCount = { readable: 0, writable: 0 };
  const { ReadableStream: NativeReadable, WritableStream: NativeWritable } = globalThis;
  beforeEach(() => {
    made.readable = made.writable = 0;
    globalThis.ReadableStream = class extends NativeReadable<unknown> {
      constructor(...args: ConstructorParameters<typeof NativeReadable<unknown>>) {
        super(...args);
        made.readable += 1;
      }
    } as typeof ReadableStream;
    globalThis.WritableStream = class extends NativeWritable<unknown> {
      constructor(...args: ConstructorParameters<typeof NativeWritable<unknown>>) {
        super(...args);
        made.writable += 1;
      }
    } as typeof WritableStream;
  });
  afterEach(() => {
    globalThis.ReadableStream = NativeReadable;
    globalThis.WritableStream = NativeWritable;
  });
  return made;
}
