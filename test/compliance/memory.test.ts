import { Hub, connectMemory } from "../../index.js";
import { registerFixtureServices } from "./services.js";
import { complianceSuite } from "./suite.js";

complianceSuite("memory", async () => {
  const hub = new Hub();
  const peer = connectMemory(hub);
  await registerFixtureServices(peer);
  return {
    hub,
    connect: () => Promise.resolve(connectMemory(hub)),
    close: () => hub.close(),
    closeResetsFinishedStreams: true,
  };
});
