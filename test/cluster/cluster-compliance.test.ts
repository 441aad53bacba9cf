import { connectMemory, Hub } from "../../index.js";
import { joinCluster, type Cluster } from "../../cluster/index.js";
import { startNatsCluster, type NatsCluster } from "../helpers/nats-cluster.js";
import { registerFixtureServices } from "../compliance/services.js";
import { complianceSuite } from "../compliance/suite.js";

/**
 * The compliance suite across a cluster: a real 3-node NATS cluster with JetStream, three hubs
 * (A, B, C) joined to it, the fixture services on hub C and the test's sessions on hub A — every
 * call, channel, stream and nested reply crosses NATS.
 */
complianceSuite("cluster (caller on hub A, services on hub C, 3 NATS nodes)", async () => {
  const nats: NatsCluster = await startNatsCluster({ nodes: 3 });
  const hubs = [new Hub(), new Hub(), new Hub()] as const;
  const clusters: Cluster[] = [];
  try {
    for (const [index, hub] of hubs.entries())
      clusters.push(
        await joinCluster(hub, {
          servers: nats.urls[index]!,
          name: "compliance",
          hub: `hub-${"abc"[index]}`,
        }),
      );
    const services = connectMemory(hubs[2]);
    await registerFixtureServices(services);
  } catch (error) {
    await Promise.allSettled(clusters.map((cluster) => cluster.leave()));
    await nats.stop();
    throw error;
  }
  return {
    hub: hubs[0],
    connect: () => Promise.resolve(connectMemory(hubs[0])),
    supportsFds: false,
    closeResetsFinishedStreams: true, // the caller's session is in memory
    close: async () => {
      await Promise.allSettled(clusters.map((cluster) => cluster.leave()));
      await Promise.allSettled(hubs.map((hub) => hub.close()));
      await nats.stop();
    },
  };
});
