/**
 * What a test process holds in memory, measured after full garbage collections, for the tests
 * that bound the hub's memory under a flood (test/pubsub/flood.test.ts,
 * broadcast-flood.test.ts). Vitest's worker does not run with --expose-gc, so `gc` is switched
 * on at run time and fetched from a fresh context (the flag makes V8 put it on new globals).
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

/**
 * The JavaScript heap and the memory outside it that buffers hold (a Uint8Array's bytes are
 * there), after two full collections (the second frees what the first's finalisers let go).
 */
export function heapAfterGc(): number {
  gc();
  gc();
  const { heapUsed, external } = process.memoryUsage();
  return heapUsed + external;
}
