import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, Hub, listen } from "../../index.js";
import { startFixturePeer } from "../helpers/peer.js";
import { complianceSuite } from "./suite.js";

/**
 * The suite through `listen(hub, "unix:///...")` and `connect("unix:///...")`: the hub in this
 * process, the fixture services in a child process, the test's sessions over the socket.
 */
complianceSuite("connect(unix:///path) (two processes)", async () => {
  const dir = await mkdtemp(join(tmpdir(), "beamhub-connect-unix-"));
  const hub = new Hub();
  const listener = await listen(hub, `unix://${join(dir, "hub.sock")}`);
  const peer = startFixturePeer(join(import.meta.dirname, "connect-peer.ts"), [listener.url]);
  return {
    hub,
    connect: () => connect(listener.url),
    close: async () => {
      await peer.stop();
      await listener.close();
      await hub.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});
