import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, Hub, listen } from "../../index.js";
import { joinCluster, type Cluster } from "../../cluster/index.js";
import { startFixturePeer } from "../helpers/peer.js";
import { startNatsCluster, type NatsCluster } from "../helpers/nats-cluster.js";
import { complianceSuite, type ComplianceFixture } from "../compliance/suite.js";

/**
 * The compliance suite across a cluster over real transports at both ends: the test's sessions
 * reach hub A over its Unix socket, the fixture services run in another process connected to
 * hub C over HTTPS (HTTP/2), and A and C are hubs of a 3-node NATS cluster — every call, channel,
 * stream and nested reply goes Unix → NATS → HTTPS and back.
 */
complianceSuite(
  "cluster over transports (caller over Unix to hub A, services over HTTPS to hub C)",
  async (): Promise<ComplianceFixture> => {
    const dir = await mkdtemp(join(tmpdir(), "beamhub-cluster-transports-"));
    const nats: NatsCluster = await startNatsCluster({ nodes: 3 });
    const hubA = new Hub();
    const hubC = new Hub();
    const clusters: Cluster[] = [];
    const closers: (() => Promise<unknown>)[] = [];
    const close = async (): Promise<void> => {
      for (const step of closers.reverse()) await step().catch(() => undefined);
      await Promise.allSettled(clusters.map((cluster) => cluster.leave()));
      await Promise.allSettled([hubA.close(), hubC.close()]);
      await nats.stop();
      await rm(dir, { recursive: true, force: true });
    };
    try {
      clusters.push(await joinCluster(hubA, { servers: nats.urls[0]!, name: "transports", hub: "hub-a" }));
      clusters.push(await joinCluster(hubC, { servers: nats.urls[2]!, name: "transports", hub: "hub-c" }));
      const unix = await listen(hubA, `unix://${join(dir, "a.sock")}`);
      closers.push(() => unix.close());
      const https = await listen(hubC, "https://127.0.0.1:0", { certDir: dir });
      if (https.scheme !== "https") throw new Error(`listen gave a ${https.scheme} listener`);
      closers.push(() => https.close());
      const peer = startFixturePeer(join(import.meta.dirname, "../compliance/connect-peer.ts"), [
        https.url,
        join(dir, "cert.pem"),
      ]);
      closers.push(() => peer.stop());
      return { hub: hubA, supportsFds: false, connect: () => connect(unix.url), close };
    } catch (error) {
      await close();
      throw error;
    }
  },
);
