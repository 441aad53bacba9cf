// `beamhub serve --keepalive MS`: read like every serve setting (flag, BEAMHUB_KEEPALIVE, config
// key), checked before anything listens, refused on client commands, and in effect: a frozen
// service is dropped from a real `beamhub serve` within the keep-alive bound.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CliConfig } from "../../cli/config.js";
import { CliError } from "../../cli/errors.js";
import { resolveServeOptions } from "../../cli/serve-options.js";
import { connectUnix } from "../../hub/remote/unix.js";
import { beamhub, startCli } from "../cli/helpers.js";
import { killAll, startChild, within } from "./processes.js";

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-serve-keepalive-"));
});

afterAll(async () => {
  await killAll();
  await rm(dir, { recursive: true, force: true });
});

function configWith(file: Record<string, unknown> = {}): CliConfig {
  const socket = join(dir, "options.sock");
  return {
    hub: { kind: "unix", path: socket, text: `unix://${socket}` },
    hubSource: "test",
    socket,
    timeout: 30_000,
    reconnect: { maxAttempts: Infinity, giveUpAfter: Infinity },
    tls: { transport: "auto", certDir: join(dir, "cert") },
    file,
  };
}

describe("resolving --keepalive", () => {
  it("takes the flag, then BEAMHUB_KEEPALIVE, then the config key; unset means the library's default", () => {
    const off = { "listen-https": "off" };
    expect(
      resolveServeOptions({ ...off, keepalive: "250" }, configWith({ keepalive: 900 }), {}).keepAlive,
    ).toBe(250);
    expect(
      resolveServeOptions(off, configWith({ keepalive: 900 }), { BEAMHUB_KEEPALIVE: "0" }).keepAlive,
    ).toBe(0);
    expect(resolveServeOptions(off, configWith({ keepalive: 900 }), {}).keepAlive).toBe(900);
    expect(resolveServeOptions(off, configWith(), {}).keepAlive).toBeUndefined();
  });

  it("refuses what is not a whole number of ms, naming the setting", () => {
    const off = { "listen-https": "off" };
    for (const [flags, file, message] of [
      [{ keepalive: "2s" }, {}, /--keepalive must be a whole number of milliseconds.*"2s"/],
      [{ keepalive: "-1" }, {}, /--keepalive must be/],
      [{}, { keepalive: 1.5 }, /config key keepalive must be/],
    ] as const) {
      expect(() => resolveServeOptions({ ...off, ...flags }, configWith(file), {})).toThrow(CliError);
      expect(() => resolveServeOptions({ ...off, ...flags }, configWith(file), {})).toThrow(message);
    }
  });

  it("is a serve flag: client commands refuse it (exit 2)", async () => {
    const result = await beamhub(["ls", "--keepalive", "100", "--hub", `unix://${join(dir, "none.sock")}`]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--keepalive applies only to beamhub serve/);
  });
});

it("beamhub serve --keepalive 200 drops a frozen service within the bound", async () => {
  const socket = join(dir, "serve.sock");
  const serve = await startCli(
    ["serve", "--socket", socket, "--listen-https", "off", "--keepalive", "200"],
    /press Ctrl-C/,
  );
  try {
    const args = {
      role: "service",
      transports: ["unix"],
      socket,
      url: "",
      cert: "",
      keepAlive: 200,
      service: "frozen.under.serve",
    };
    const service = await startChild(join(import.meta.dirname, "fixtures", "peer.ts"), [
      JSON.stringify(args),
    ]);
    const observer = await connectUnix(socket);
    expect(await observer.lookup("frozen.under.serve.unix")).toHaveLength(1);
    service.freeze();
    await within(
      (async () => {
        while ((await observer.lookup("frozen.under.serve.unix")).length > 0) {
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      })(),
      2.25 * 200 + 4000,
      "the hub to drop the frozen service",
    );
    await observer.close();
    await service.kill();
  } finally {
    await serve.stop();
  }
}, 30_000);
