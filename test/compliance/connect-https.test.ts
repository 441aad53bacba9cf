import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, Hub, listen } from "../../index.js";
import { startFixturePeer } from "../helpers/peer.js";
import { complianceSuite, type ComplianceFixture } from "./suite.js";

/**
 * The suite through `listen(hub, "https://127.0.0.1:0")` and `connect("https://...")` (HTTP/2,
 * with the WebSocket as fallback): two processes, TLS twice. Descriptors cannot cross a network.
 */
complianceSuite("connect(https://host:port) (two processes)", async (): Promise<ComplianceFixture> => {
  const dir = await mkdtemp(join(tmpdir(), "beamhub-connect-https-"));
  const hub = new Hub();
  const listener = await listen(hub, "https://127.0.0.1:0", { certDir: dir });
  if (listener.scheme !== "https") throw new Error(`listen gave a ${listener.scheme} listener`);
  const peer = startFixturePeer(join(import.meta.dirname, "connect-peer.ts"), [
    listener.url,
    join(dir, "cert.pem"),
  ]);
  return {
    hub,
    supportsFds: false,
    connect: () => connect(listener.url, { ca: listener.https.certificate }),
    close: async () => {
      await peer.stop();
      await listener.close();
      await hub.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});
