// Runs one decoder's property in a worker thread, so the test can tell a decoder that never
// returns (a hang, an endless loop on hostile lengths) from a slow one: before each decode the
// worker writes a sequence number and the input into shared memory; the test thread watches the
// number and, if it stops moving, terminates the worker and reports the input that hung it.
import { parentPort, workerData } from "node:worker_threads";
import fc from "fast-check";
import { DECODE_TARGETS, type DecodeInput } from "./decode-targets.js";

export interface DecodeJob {
  target: string;
  seed: number;
  numRuns: number;
  /** Inputs the generator mutates (real traffic, corpus messages, hostile shapes). */
  samples: Uint8Array[];
  /** [0]: the sequence number of the decode in progress, [1]: its input's length, then the bytes. */
  progress: SharedArrayBuffer;
}

export interface DecodeResult {
  failed: boolean;
  report: string;
  runs: number;
}

const job = workerData as DecodeJob;
const target = DECODE_TARGETS[job.target];
if (target === undefined) throw new Error(`no decode target ${job.target}`);
const header = new Int32Array(job.progress, 0, 2);
const room = job.progress.byteLength - 8;
const inputBytes = new Uint8Array(job.progress, 8);

const { hostileBytes } = await import("./mutate.js");
const input: fc.Arbitrary<DecodeInput> = fc.record({
  bytes: hostileBytes(job.samples, 8192),
  cuts: fc.array(fc.nat({ max: 9000 }), { maxLength: 6 }).map((cuts) => cuts.sort((a, b) => a - b)),
});

let count = 0;
const details = fc.check(
  fc.property(input, (value) => {
    const length = Math.min(value.bytes.length, room);
    inputBytes.set(value.bytes.subarray(0, length));
    Atomics.store(header, 1, length);
    Atomics.store(header, 0, ++count);
    target(value);
  }),
  { seed: job.seed, numRuns: job.numRuns },
);
const result: DecodeResult = {
  failed: details.failed,
  report: details.failed ? (fc.defaultReportMessage(details) ?? "failed") : "",
  runs: details.numRuns,
};
if (details.failed && details.counterexample !== null) {
  const [{ bytes, cuts }] = details.counterexample;
  const error = details.errorInstance as Error | undefined;
  result.report = `${error?.message ?? "failed"}\ninput (hex): ${Buffer.from(bytes).toString("hex")} cuts ${JSON.stringify(cuts)}\n${result.report}`;
}
parentPort!.postMessage(result);
