import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cborCodec, jsonCodec, type Codec } from "../../codecs/index.js";
import { connectHttps, Hub, listenHttps } from "../../index.js";
import { startFixturePeer } from "../helpers/peer.js";
import { complianceSuite, type ComplianceFixture } from "./suite.js";

/**
 * Runs the suite with the hub in this process behind `listenHttps`, the fixture services in a
 * child process connected over `transport`, and the test's sessions over the same transport
 * with `codecs`: every call crosses two processes and TLS twice. File descriptors cannot cross
 * a network, so the suite's descriptor tests are skipped.
 */
function httpsSuite(title: string, transport: "http2" | "websocket", codecs: Codec[]): void {
  complianceSuite(title, async (): Promise<ComplianceFixture> => {
    const dir = await mkdtemp(join(tmpdir(), "beamhub-https-"));
    const hub = new Hub();
    const listener = await listenHttps(hub, { certDir: dir });
    const peer = startFixturePeer(join(import.meta.dirname, "http2-peer.ts"), [
      listener.url,
      join(dir, "cert.pem"),
      transport,
    ]);
    return {
      hub,
      supportsFds: false,
      connect: () => connectHttps(listener.url, { ca: listener.certificate, transport, codecs }),
      close: async () => {
        await peer.stop();
        await listener.close();
        await hub.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  });
}

httpsSuite("http2 (two processes, CBOR)", "http2", [cborCodec]);
httpsSuite("websocket (two processes, CBOR)", "websocket", [cborCodec]);
httpsSuite("http2 (two processes, test sessions on JSON)", "http2", [jsonCodec]);
