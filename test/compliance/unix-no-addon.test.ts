import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { connect, Hub, listen } from "../../index.js";
import { startFixturePeer } from "../helpers/peer.js";
import { complianceSuite } from "./suite.js";

/**
 * The suite over the Unix transport without the fd addon (`BEAMHUB_NO_ADDON=1`, as after an
 * install whose build failed): the hub in this process, the fixture services in a child process
 * (which inherits the switch), the test's sessions over the socket. Everything works on plain
 * sockets but descriptors, whose sending fails with `FdUnavailableError`.
 */
let previous: string | undefined;
beforeAll(() => {
  previous = process.env.BEAMHUB_NO_ADDON;
  process.env.BEAMHUB_NO_ADDON = "1";
});
afterAll(() => {
  if (previous === undefined) delete process.env.BEAMHUB_NO_ADDON;
  else process.env.BEAMHUB_NO_ADDON = previous;
});

complianceSuite("unix without the fd addon (two processes)", async () => {
  const dir = await mkdtemp(join(tmpdir(), "beamhub-no-addon-"));
  const hub = new Hub();
  const listener = await listen(hub, `unix://${join(dir, "hub.sock")}`);
  const peer = startFixturePeer(join(import.meta.dirname, "connect-peer.ts"), [listener.url]);
  return {
    hub,
    fdsUnavailable: true,
    connect: () => connect(listener.url),
    close: async () => {
      await peer.stop();
      await listener.close();
      await hub.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});
