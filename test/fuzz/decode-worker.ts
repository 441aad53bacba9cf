// Runs the decoders' properties in a worker thread, one after the other, so the test can tell a
// decoder that never returns (a hang, an endless loop on a hostile length) from a slow one:
// before each decode the worker writes a sequence number and the input into shared memory; the
// test thread watches the number and, if it stops moving, terminates the worker and reports the
// input that hung it.
import { parentPort, workerData } from "node:worker_threads";
import fc from "fast-check";
import { DECODE_TARGETS, type DecodeInput } from "./decode-targets.js";
import { hostileBytes } from "./mutate.js";

export interface DecodeJob {
  target: string;
  seed: number;
  numRuns: number;
  /** Inputs the generator mutates (real traffic, corpus messages, hostile shapes). */
  samples: Uint8Array[];
}

export interface DecodeWork {
  jobs: DecodeJob[];
  /** [0]: the sequence number of the decode in progress, [1]: its input's length, then the bytes. */
  progress: SharedArrayBuffer;
}

/** Posted once per job, in order. */
export interface DecodeResult {
  target: string;
  failed: boolean;
  report: string;
  runs: number;
}

const work = workerData as DecodeWork;
const header = new Int32Array(work.progress, 0, 2);
const room = work.progress.byteLength - 8;
const inputBytes = new Uint8Array(work.progress, 8);
let count = 0;

for (const job of work.jobs) {
  const target = DECODE_TARGETS[job.target];
  if (target === undefined) throw new Error(`no decode target ${job.target}`);
  const input: fc.Arbitrary<DecodeInput> = fc.record({
    bytes: hostileBytes(job.samples, 8192),
    cuts: fc.array(fc.nat({ max: 9000 }), { maxLength: 6 }).map((cuts) => cuts.sort((a, b) => a - b)),
  });
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
    target: job.target,
    failed: details.failed,
    report: "",
    runs: details.numRuns,
  };
  if (details.failed) {
    const error = details.errorInstance as Error | undefined;
    const [value] = details.counterexample ?? [];
    result.report = [
      error?.message ?? "failed",
      value === undefined
        ? ""
        : `input (hex): ${Buffer.from(value.bytes).toString("hex")} cuts ${JSON.stringify(value.cuts)}`,
      fc.defaultReportMessage(details) ?? "",
    ].join("\n");
  }
  parentPort!.postMessage(result);
}
