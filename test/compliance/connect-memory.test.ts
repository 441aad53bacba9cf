import { connect, Hub, listen } from "../../index.js";
import { registerFixtureServices } from "./services.js";
import { complianceSuite } from "./suite.js";

/** The suite through `listen(hub, "memory://...")` and `connect("memory:...")`, in this process. */
complianceSuite("connect(memory:name)", async () => {
  const hub = new Hub();
  const listener = await listen(hub, "memory://compliance");
  const peer = await connect("memory://compliance");
  await registerFixtureServices(peer);
  return {
    hub,
    connect: () => connect("memory:compliance"),
    closeResetsFinishedStreams: true,
    close: async () => {
      await peer.close();
      await listener.close();
      await hub.close();
    },
  };
});
