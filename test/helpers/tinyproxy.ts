// A throwaway forward HTTP proxy for tests: tinyproxy from Debian (scripts/install-tinyproxy.sh
// installs it when missing), in the foreground on a loopback port, with Basic credentials, and
// binding its outgoing connections to 127.0.0.7 so that a server can tell they came through it.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "./ports.js";

const INSTALL = fileURLToPath(new URL("../../scripts/install-tinyproxy.sh", import.meta.url));

/** The address tinyproxy's connections to the destination come from. */
export const PROXY_SOURCE_ADDRESS = "127.0.0.7";

/** Installs tinyproxy when missing: the binary's path, or the reason it cannot be had. */
export function installTinyproxy(): Promise<{ path?: string; reason?: string }> {
  return new Promise((resolve) => {
    execFile("bash", [INSTALL], { encoding: "utf8", timeout: 300_000 }, (error, stdout, stderr) => {
      const path = stdout.trim().split("\n").at(-1);
      if (error || !path) resolve({ reason: (stderr.trim() || String(error)).split("\n").at(-1) });
      else resolve({ path });
    });
  });
}

/** A running tinyproxy. */
export interface Tinyproxy {
  readonly port: number;
  /** `http://user:secret@127.0.0.1:<port>`. */
  readonly url: string;
  /** Its log so far (CONNECT lines name every tunnel it opened). */
  log(): string;
  stop(): Promise<void>;
}

/** Starts tinyproxy (at `path`) asking for `user`/`password`; resolves once it accepts connections. */
export async function startTinyproxy(path: string, user = "user", password = "secret"): Promise<Tinyproxy> {
  const dir = await mkdtemp(join(tmpdir(), "beamhub-tinyproxy-"));
  const port = await freePort();
  await writeFile(
    join(dir, "tinyproxy.conf"),
    [
      `Port ${port}`,
      "Listen 127.0.0.1",
      `Bind ${PROXY_SOURCE_ADDRESS}`,
      "Timeout 60",
      "Allow 127.0.0.1",
      `BasicAuth ${user} ${password}`,
      "LogLevel Connect",
      "MaxClients 100",
      "",
    ].join("\n"),
  );
  const child: ChildProcess = spawn(path, ["-d", "-c", join(dir, "tinyproxy.conf")], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  child.stdout!.on("data", (chunk: Buffer) => (log += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (log += chunk.toString()));
  const deadline = Date.now() + 10_000;
  while (!(await accepts(port))) {
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill("SIGKILL");
      throw new Error(`tinyproxy did not start within 10 s: ${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    port,
    url: `http://${user}:${password}@127.0.0.1:${port}`,
    log: () => log,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGKILL");
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
