/**
 * A hub listening on a Unix socket in a fresh temporary folder and one client session to it,
 * for the tests that drive something across a real session in this process.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectUnix, Hub, type HubClient, listenUnix } from "../../index.js";

/**
 * Runs `test` with a client connected (without reconnecting) to a fresh hub over a Unix socket;
 * afterwards closes the client, the listener and the hub and removes the folder, whether `test`
 * passed or threw.
 */
export async function withUnixHub(test: (client: HubClient, hub: Hub) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "beamhub-unix-hub-"));
  const hub = new Hub();
  try {
    const listener = await listenUnix(hub, join(dir, "hub.sock"));
    try {
      const client = await connectUnix(join(dir, "hub.sock"), { reconnect: false });
      try {
        await test(client, hub);
      } finally {
        await client.close();
      }
    } finally {
      await listener.close();
    }
  } finally {
    await hub.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
