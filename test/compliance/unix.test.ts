import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Hub } from "../../index.js";
import { connectUnix, listenUnix } from "../../transports/unix/index.js";
import { complianceSuite } from "./suite.js";

// The hub in this process, the fixture services in a child process, the test's sessions over
// the Unix socket: every call crosses two real processes and the socket twice.
complianceSuite("unix (two processes)", async () => {
  const dir = await mkdtemp(join(tmpdir(), "beamhub-unix-"));
  const path = join(dir, "hub.sock");
  const hub = new Hub();
  const listener = await listenUnix(hub, path);
  const peer = spawn(process.execPath, ["--import", "tsx", join(import.meta.dirname, "unix-peer.ts"), path], {
    stdio: ["pipe", "inherit", "inherit"],
  });
  return {
    hub,
    connect: () => connectUnix(path),
    close: async () => {
      peer.stdin.end();
      const exited = new Promise((resolve) => peer.once("exit", resolve));
      const timer = setTimeout(() => peer.kill("SIGKILL"), 3000);
      await exited;
      clearTimeout(timer);
      await listener.close();
      await hub.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});
