import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cborCodec, jsonCodec, type Codec } from "../../codecs/index.js";
import { Hub } from "../../index.js";
import { connectUnix, listenUnix } from "../../hub/remote/unix.js";
import { startFixturePeer } from "../helpers/peer.js";
import { complianceSuite } from "./suite.js";

/**
 * Runs the suite with the hub in this process, the fixture services in a child process (which
 * negotiates CBOR), and the test's sessions over the Unix socket with `codecs`: every call
 * crosses two real processes and the socket twice.
 */
function unixSuite(title: string, codecs: Codec[]): void {
  complianceSuite(title, async () => {
    const dir = await mkdtemp(join(tmpdir(), "beamhub-unix-"));
    const path = join(dir, "hub.sock");
    const hub = new Hub();
    const listener = await listenUnix(hub, path);
    const peer = startFixturePeer(join(import.meta.dirname, "unix-peer.ts"), [path]);
    return {
      hub,
      connect: () => connectUnix(path, { codecs }),
      close: async () => {
        await peer.stop();
        await listener.close();
        await hub.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  });
}

unixSuite("unix (two processes, CBOR)", [cborCodec]);
unixSuite("unix (two processes, test sessions on JSON)", [jsonCodec]);
