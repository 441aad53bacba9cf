// A hub in a process of its own for the slow-reader tests: it serves on a Unix socket and over
// HTTPS (HTTP/2 and WebSocket), with a short slowConsumerTimeout, and answers a line "rss" on
// stdin with its resident set size after a GC. Its first stdout line is JSON: where it listens.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Hub, listenHttps, listenUnix, type Channel } from "../../index.js";

const limits = { slowConsumerTimeout: 1000 };
const hub = new Hub();
for (let i = 0; i < 50; i++) await hub.register(`svc.${i}`, () => null, { labels: { n: String(i) } });
const payload = "x".repeat(1024);
// Sends 1 KiB events on the channel it is given for as long as it stays open.
await hub.register("events", (data: { events: Channel }) => {
  void (async () => {
    for (let i = 1; ; i++) {
      await data.events.send(payload);
      // A send that never waits would starve the event loop (and this process's "rss" answers).
      if (i % 64 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
  })().catch(() => undefined);
  return true;
});
const path = join(mkdtempSync(join(tmpdir(), "beamhub-slow-test-")), "hub.sock");
await listenUnix(hub, path, { limits });
const https = await listenHttps(hub, { limits });
process.stdin.setEncoding("utf8");
process.stdin.on("data", (text: string) => {
  for (const line of text.split("\n")) {
    if (line !== "rss") continue;
    globalThis.gc?.();
    process.stdout.write(`${process.memoryUsage().rss}\n`);
  }
});
process.stdin.on("end", () => process.exit(0));
process.stdout.write(`${JSON.stringify({ path, url: https.url, certificate: https.certificate })}\n`);
