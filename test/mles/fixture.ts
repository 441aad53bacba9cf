// A hub listening on HTTPS with the Mles face on its upgrades, its pub/sub in reach of the test.
import { connectHttps, Hub, listenHttps, type HttpsListener } from "../../index.js";
import { MlesFace } from "../../mles/mles-face.js";
import type { MlesOptions } from "../../mles/options.js";
import type { PubSub, PubSubOptions } from "../../pubsub/index.js";
import { MlesClient, type MlesClientOptions } from "./mles-client.js";

export interface MlesFixture {
  hub: Hub;
  pubsub: PubSub;
  face: MlesFace;
  listener: HttpsListener;
  /** Opens an Mles client and sends its header. */
  join(
    uid: string,
    channel: string,
    extra?: { auth?: string } & Omit<MlesClientOptions, "ca">,
  ): Promise<MlesClient>;
  open(options?: Omit<MlesClientOptions, "ca">): Promise<MlesClient>;
  /** Checks the hub still serves a beamhub session over its own WebSocket. */
  beamhubStillServes(): Promise<void>;
  close(): Promise<void>;
}

export async function mlesFixture(
  options: MlesOptions = {},
  pubsubOptions: PubSubOptions = {},
): Promise<MlesFixture> {
  const hub = new Hub({ pubsub: pubsubOptions });
  await hub.register("echo", (value: unknown) => value);
  const pubsub = hub.pubsub;
  const face = new MlesFace(hub, options);
  const listener = await listenHttps(hub, { otherUpgrades: face.upgrade });
  const clients: MlesClient[] = [];
  const track = (client: MlesClient): MlesClient => {
    clients.push(client);
    return client;
  };
  return {
    hub,
    pubsub,
    face,
    listener,
    async join(uid, channel, extra = {}) {
      const { auth, ...clientOptions } = extra;
      const header = auth === undefined ? { uid, channel } : { uid, channel, auth };
      return track(
        await MlesClient.join(listener.url, header, { ca: listener.certificate, ...clientOptions }),
      );
    },
    async open(clientOptions = {}) {
      return track(await MlesClient.open(listener.url, { ca: listener.certificate, ...clientOptions }));
    },
    async beamhubStillServes() {
      const remote = await connectHttps(listener.url, { ca: listener.certificate, transport: "websocket" });
      try {
        if ((await remote.call("echo", "still here")) !== "still here") throw new Error("echo broke");
      } finally {
        await remote.close();
      }
    },
    async close() {
      await Promise.all(clients.map((client) => client.close()));
      await listener.close();
      await face.close();
      await hub.close();
    },
  };
}
