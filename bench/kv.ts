// kv encode+decode against JSON.stringify + JSON.parse on the same string-valued messages, the
// issue's target being "at least as fast". Run: npx tsx bench/kv.ts
import { decodeKv, encodeKv } from "../kv/index.js";
import type { KvObject } from "../kv/index.js";
import { compare, report } from "./codecs.js";

const messages: Record<string, KvObject> = {
  "tiny (3 keys)": { op: ["get"], key: ["user:42"], seq: ["17"] },
  "typical (7 keys, ~200 B)": {
    method: ["GET"],
    path: ["/api/v1/users/42/profile"],
    host: ["api.example.com"],
    "request-id": ["3f2a9c1e-5b7d-4e8a-9f10-2c3d4e5f6a7b"],
    accept: ["application/json", "text/plain"],
    authorization: ["Bearer eyJhbGciOi.eyJzdWIiOi.SflKxwRJSM"],
    "user-agent": ["beamhub/0.1 (linux x64)"],
  },
  "larger (24 keys, ~1 KB)": Object.fromEntries(
    Array.from({ length: 24 }, (_, i) => [
      `header-${i}`,
      [`value number ${i} of a larger message`, `second ${i}`],
    ]),
  ),
  "non-ASCII (7 keys)": {
    name: ["Zoë Ångström"],
    city: ["Köln"],
    greeting: ["こんにちは世界"],
    emoji: ["🚀✨"],
    note: ["naïve café"],
    lang: ["de-DE"],
    path: ["/wiki/Straße"],
  },
};

console.log(`node ${process.version}, ${new Date().toISOString()}`);
for (const [name, message] of Object.entries(messages)) {
  const json = JSON.stringify(message);
  const kv = encodeKv(message);
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  const results = compare({
    "JSON.stringify+parse": () => JSON.parse(JSON.stringify(message)),
    "kv encode+decode": () => decodeKv(encodeKv(message)),
    "JSON as bytes (+UTF-8)": () => JSON.parse(decoder.decode(encoder.encode(JSON.stringify(message)))),
    "JSON.stringify": () => JSON.stringify(message),
    "kv encode": () => encodeKv(message),
    "JSON.parse": () => JSON.parse(json),
    "kv decode": () => decodeKv(kv),
  });
  const ratio = (a: string, b: string) =>
    ((results.get(a) as number) / (results.get(b) as number)).toFixed(2);
  report(`${name}: JSON ${Buffer.byteLength(json)} B, kv ${kv.length} B`, results, "JSON.stringify+parse");
  console.log(
    `ratios: kv/JSON encode+decode ${ratio("kv encode+decode", "JSON.stringify+parse")}, ` +
      `encode ${ratio("kv encode", "JSON.stringify")}, decode ${ratio("kv decode", "JSON.parse")}, ` +
      `vs JSON with UTF-8 ${ratio("kv encode+decode", "JSON as bytes (+UTF-8)")}`,
  );
}
