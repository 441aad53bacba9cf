// A session's close over HTTPS delivers what was written before it (HTTP/2 and the WebSocket): a
// short-lived command that streams into a hub that reads nothing for a while (frozen with
// SIGSTOP), closes its session and exits at once must not leave the tail of its stream (and the
// END) behind. Before, the HTTPS transports' close promised nothing: the command exited with the
// tail still in its process (or in its kernel, which a process leaving unread input resets).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { killAll, startChild } from "../faults/processes.js";
import { expectDeliveredThroughFreeze } from "../helpers/frozen-hub-delivery.js";

// More than the session's stream window on HTTPS (4 MiB): the last chunk and the END wait in the
// command for the hub's credit when its writer is told "closed", and the window's worth before
// them waits in its TLS connection (HTTP/2's window, the socket) while the hub is frozen.
const SIZE = 4 * 1024 * 1024 + 64 * 1024;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-https-close-"));
});

afterAll(async () => {
  await killAll();
  await rm(dir, { recursive: true, force: true });
});

describe.each(["http2", "websocket"] as const)("over %s", (transport) => {
  it("a command that closes its session and exits delivers every byte and the END to a frozen hub", async () => {
    const certDir = join(dir, transport);
    const hub = await startChild(join(import.meta.dirname, "fixtures", "stream-sink-hub.ts"), [certDir]);
    const { url } = JSON.parse(hub.lines[0]!) as { url: string };
    const writer = await startChild(join(import.meta.dirname, "fixtures", "stream-then-close.ts"), [
      url,
      join(certDir, "cert.pem"),
      transport,
      String(SIZE),
    ]);
    try {
      await expectDeliveredThroughFreeze(hub, writer, SIZE);
    } finally {
      await writer.kill();
      await hub.kill();
    }
  });
});
