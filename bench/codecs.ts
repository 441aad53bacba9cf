// Encode+decode of a typical ~200-byte hub message with every codec (and with kv), in one run,
// against plain JSON.stringify + JSON.parse. Run: npx tsx bench/codecs.ts
//
// Candidates run round-robin (one round of each, then the next round), so that a slow patch on
// a shared machine hurts them alike; each figure is the median of the rounds.
import { pathToFileURL } from "node:url";
import { builtinCodecs, jsonCodec, protobufCodec, Ref } from "../codecs/index.js";
import type { Codec } from "../codecs/index.js";

/** Ops/s per candidate: the median over rounds, after a warm-up. */
export function compare(
  candidates: Record<string, () => unknown>,
  { rounds = 11, roundMs = 150, warmupMs = 300 } = {},
): Map<string, number> {
  let sink: unknown;
  const batch = new Map<string, number>();
  for (const [name, run] of Object.entries(candidates)) {
    // Warm up (lets the JIT settle) and size a batch to take about roundMs.
    let n = 0;
    const start = performance.now();
    while (performance.now() - start < warmupMs) {
      sink = run();
      n++;
    }
    batch.set(name, Math.max(1, Math.round((n * roundMs) / warmupMs)));
  }
  const samples = new Map<string, number[]>(Object.keys(candidates).map((name) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const [name, run] of Object.entries(candidates)) {
      const count = batch.get(name) as number;
      const start = performance.now();
      for (let i = 0; i < count; i++) sink = run();
      samples.get(name)?.push((count * 1000) / (performance.now() - start));
    }
  }
  if (sink === Symbol.for("never")) console.log(sink); // keep the results observable
  const medians = new Map<string, number>();
  for (const [name, values] of samples) {
    values.sort((a, b) => a - b);
    medians.set(name, values[Math.floor(values.length / 2)] as number);
  }
  return medians;
}

/** Prints a table: name, ops/s, and the ratio to `baseline`. */
export function report(
  title: string,
  results: Map<string, number>,
  baseline: string,
  extra: Record<string, string> = {},
): void {
  const base = results.get(baseline) as number;
  console.log(`\n${title}`);
  console.log(`${"".padEnd(34)}${"ops/s".padStart(12)}${"× JSON".padStart(9)}  notes`);
  for (const [name, ops] of results) {
    console.log(
      `${name.padEnd(34)}${Math.round(ops).toLocaleString("en-US").padStart(12)}${(ops / base).toFixed(2).padStart(9)}  ${extra[name] ?? ""}`,
    );
  }
}

/** A typical request: a handful of short strings, a list, a reply channel. */
export const typical = {
  method: "GET",
  path: "/api/v1/users/42/profile",
  host: "api.example.com",
  "request-id": "3f2a9c1e-5b7d-4e8a-9f10-2c3d4e5f6a7b",
  accept: ["application/json", "text/plain"],
  authorization: "Bearer eyJhbGciOi.eyJzdWIiOi.SflKxwRJSM",
  reply: new Ref("channel", 7),
};

const protobuf = protobufCodec({
  proto: `syntax = "proto3";
    message Request {
      string method = 1; string path = 2; string host = 3; string request_id = 4;
      repeated string accept = 5; string authorization = 6; beamhub.Ref reply = 7;
    }`,
  type: "Request",
});
const { "request-id": requestId, ...rest } = typical;
const typicalProtobuf = { ...rest, request_id: requestId };

function main(): void {
  const plain = { ...typical, reply: { $channel: 7 } };
  const candidates: Record<string, () => unknown> = {
    "JSON.stringify+parse (baseline)": () => JSON.parse(JSON.stringify(plain)),
  };
  const sizes: Record<string, string> = {
    "JSON.stringify+parse (baseline)": `${JSON.stringify(plain).length} B`,
  };
  const codecs: [Codec, unknown][] = [
    ...builtinCodecs.map((codec): [Codec, unknown] => [codec, typical]),
    [protobuf, typicalProtobuf],
  ];
  for (const [codec, value] of codecs) {
    const name = `${codec.name} codec encode+decode`;
    candidates[name] = () => codec.decode(codec.encode(value));
    sizes[name] = `${codec.encode(value).length} B`;
  }
  console.log(`node ${process.version}, ${new Date().toISOString()}`);
  report("encode+decode of a typical message", compare(candidates), "JSON.stringify+parse (baseline)", sizes);
  console.log(`\n(json codec output: ${new TextDecoder().decode(jsonCodec.encode(typical))})`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
