/**
 * The terminal side of examples/chat.md: an Mles client (any Mles server would do) that joins a
 * channel, prints what the channel says — its history first — and sends every line you type.
 *
 *   npx tsx examples/chat/chat-terminal.ts --uid alice [--channel lobby] [--hub wss://127.0.0.1:8443]
 *     [--ca ~/.beamhub/dev-cert/cert.pem] [--key KEY (else MLES_KEY)]
 *
 * Mles carries frames verbatim and tags nothing, so the chat's own format says who speaks: each
 * message is a JSON text frame {"uid", "text"}, the same the page (chat.html) sends. Join frames,
 * the Mles header {"uid", "channel"} that the server keeps in history, show as "* uid joined".
 */
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import WebSocket from "ws";
import { mlesAuth } from "beamhub";

const { values } = parseArgs({
  options: {
    uid: { type: "string" },
    channel: { type: "string", default: "lobby" },
    hub: { type: "string", default: "wss://127.0.0.1:8443" },
    ca: { type: "string" },
    key: { type: "string" },
  },
});
if (values.uid === undefined) {
  console.error(
    "usage: chat-terminal.ts --uid NAME [--channel C] [--hub wss://HOST:PORT] [--ca FILE] [--key KEY]",
  );
  process.exit(2);
}
const uid = values.uid;
const channel = values.channel;
const key = values.key ?? process.env.MLES_KEY;
const caFile =
  values.ca ?? join(process.env.BEAMHUB_CERT_DIR ?? join(homedir(), ".beamhub", "dev-cert"), "cert.pem");

// The hub's development certificate is pinned; a hub with a public certificate needs no --ca.
const ws = new WebSocket(values.hub, "mles-websocket", {
  ca: readFileSync(caFile),
});

ws.on("open", () => {
  // The Mles header: who joins which channel (with auth when the hub has a key).
  ws.send(
    JSON.stringify(
      key === undefined ? { uid, channel } : { uid, channel, auth: mlesAuth(uid, channel, key) },
    ),
  );
  console.log(`joined ${channel} as ${uid} (type a line and Enter to send, Ctrl-D to leave)`);
  const lines = createInterface({ input: process.stdin });
  lines.on("line", (text) => {
    if (text.trim() !== "") ws.send(JSON.stringify({ uid, text }));
  });
  lines.on("close", () => ws.close(1000));
});

ws.on("message", (data, binary) =>
  console.log(binary ? `(${(data as Buffer).length} bytes)` : show(String(data))),
);

ws.on("close", (code, reason) => {
  console.log(`left ${channel}${code === 1000 || code === 1005 ? "" : `: ${code} ${reason.toString()}`}`);
  process.exit(code === 1000 || code === 1005 ? 0 : 1);
});

ws.on("error", (error) => {
  console.error(`chat: ${error.message}`);
  process.exit(1);
});

/** One frame as a line: a chat message, a join, or the frame itself (from other clients). */
function show(frame: string): string {
  try {
    const value = JSON.parse(frame) as { uid?: unknown; text?: unknown; channel?: unknown };
    if (typeof value.uid === "string" && typeof value.text === "string") return `${value.uid}: ${value.text}`;
    if (typeof value.uid === "string" && typeof value.channel === "string") return `* ${value.uid} joined`;
  } catch {
    // not JSON: shown as it came
  }
  return frame;
}
