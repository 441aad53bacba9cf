// `beamhub serve`'s browser and connection settings: --allow-origin, --trusted-proxy,
// --max-connections(-per-address), from flags, BEAMHUB_* and the config file; bad values are
// usage errors naming the setting; and a real serve process applies them (a cross-site
// WebSocket refused, an allowed origin admitted, a connection over the cap refused and logged).
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { resolveServeOptions, type ServeFlags } from "../../cli/serve-options.js";
import { beamhub, startCli, testConfig, within } from "./helpers.js";

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-serve-web-"));
});

afterAll(() => rm(dir, { recursive: true, force: true }));

function resolve(flags: ServeFlags, env: NodeJS.ProcessEnv = {}, file: Record<string, unknown> = {}) {
  return resolveServeOptions({ "listen-https": "127.0.0.1:0", ...flags }, testConfig(dir, file), env);
}

describe("serve's browser and connection settings", () => {
  it("reads repeated flags, comma-separated variables and config lists, normalizing origins", () => {
    const flags = resolve({
      "allow-origin": ["https://App.example.com:443", "http://localhost:5173"],
      "trusted-proxy": ["10.0.0.0/8", "::1"],
      "max-connections": "100",
      "max-connections-per-address": "5",
    }).https;
    expect(flags).toMatchObject({
      allowOrigins: ["https://app.example.com", "http://localhost:5173"],
      trustedProxies: ["10.0.0.0/8", "::1"],
      maxConnections: 100,
      maxConnectionsPerAddress: 5,
    });
    const env = resolve({}, { BEAMHUB_ALLOW_ORIGIN: "https://a.example, https://b.example" }).https;
    expect(env?.allowOrigins).toEqual(["https://a.example", "https://b.example"]);
    const file = resolve(
      {},
      {},
      { "allow-origin": "https://c.example", "trusted-proxy": ["127.0.0.1"], "max-connections": 7 },
    ).https;
    expect(file).toMatchObject({
      allowOrigins: ["https://c.example"],
      trustedProxies: ["127.0.0.1"],
      maxConnections: 7,
    });
    const none = resolve({}).https;
    expect(none).toMatchObject({ allowOrigins: [], trustedProxies: [], maxConnections: undefined });
  });

  it("warns about allow-origin *", () => {
    expect(resolve({ "allow-origin": ["*"] }).warnings.join("\n")).toMatch(
      /allow-origin \* lets every web page/,
    );
  });

  it.each([
    [{ "allow-origin": ["app.example.com"] }, /--allow-origin: "app.example.com" is not a web origin/],
    [{ "allow-origin": ["https://app.example.com/path"] }, /is not a web origin/],
    [
      { "trusted-proxy": ["proxy.example"] },
      /--trusted-proxy: trusted proxy "proxy.example" is not an IP address/,
    ],
    [{ "max-connections": "0" }, /--max-connections must be a positive integer/],
    [{ "max-connections-per-address": "lots" }, /--max-connections-per-address must be a positive integer/],
  ] as [ServeFlags, RegExp][])("refuses %j as a usage error", (flags, message) => {
    expect(() => resolve(flags)).toThrow(message);
  });
});

describe("beamhub serve with --allow-origin and --max-connections-per-address", { timeout: 60_000 }, () => {
  it("refuses cross-site WebSockets, admits the allowed origin, and logs a connection over the cap", async () => {
    const running = await startCli(
      [
        "serve",
        "--socket",
        join(dir, "serve.sock"),
        "--listen-https",
        "127.0.0.1:0",
        "--cert-dir",
        join(dir, "dev-cert"),
        "--allow-origin",
        "https://app.example.com",
        "--max-connections-per-address",
        "2",
      ],
      /press Ctrl-C/,
    );
    try {
      const url = running.stderr().match(/serving on (https:\/\/127\.0\.0\.1:\d+)/)?.[1];
      expect(url).toBeDefined();
      expect(running.stderr()).toContain("browsers: its own origin and https://app.example.com");
      const ca = readFile(join(dir, "dev-cert", "cert.pem"), "utf8");
      const upgrade = async (origin: string): Promise<number> => {
        const socket = new WebSocket(`${url!.replace("https:", "wss:")}/beamhub/v1/ws`, ["beamhub.v1"], {
          ca: await ca,
          origin,
        });
        return within(
          new Promise<number>((resolve, reject) => {
            socket.once("open", () => {
              socket.terminate();
              resolve(101);
            });
            socket.once("unexpected-response", (_request, response) => {
              socket.terminate();
              resolve(response.statusCode ?? 0);
            });
            socket.once("error", reject);
          }),
          5000,
          "the upgrade",
        );
      };
      expect(await upgrade("https://evil.example")).toBe(403);
      expect(await upgrade("https://app.example.com")).toBe(101);

      const port = Number(new URL(url!).port);
      const open = async (): Promise<{ connected: boolean; destroy(): void }> => {
        const socket = tlsConnect({ host: "127.0.0.1", port, ca: await ca, servername: "localhost" });
        socket.on("error", () => undefined);
        const connected = await within(
          new Promise<boolean>((resolve) => {
            socket.once("secureConnect", () => resolve(true));
            socket.once("close", () => resolve(false));
          }),
          5000,
          "a TLS connection",
        );
        return { connected, destroy: () => socket.destroy() };
      };
      const held = [await open(), await open()];
      expect(held.map((socket) => socket.connected)).toEqual([true, true]);
      const third = await open();
      expect(third.connected).toBe(false);
      await within(
        (async () => {
          while (!running.stderr().includes("--max-connections-per-address"))
            await new Promise((resolve) => setTimeout(resolve, 50));
        })(),
        5000,
        "the cap's log line",
      );
      expect(running.stderr()).toMatch(
        /https: refused a connection from 127\.0\.0\.1: it holds the maximum of 2/,
      );
      for (const socket of held) socket.destroy();
    } finally {
      await running.stop();
    }
  });

  it("exits 2 for a bad --allow-origin before listening", async () => {
    const result = await beamhub([
      "serve",
      "--socket",
      join(dir, "bad.sock"),
      "--listen-https",
      "127.0.0.1:0",
      "--allow-origin",
      "evil",
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--allow-origin: "evil" is not a web origin');
  });

  it("documents the flags in serve --help", async () => {
    const help = await beamhub(["serve", "--help"]);
    for (const flag of [
      "--allow-origin",
      "--trusted-proxy",
      "--max-connections",
      "--max-connections-per-address",
    ]) {
      expect(help.stdout).toContain(flag);
    }
  });
});
