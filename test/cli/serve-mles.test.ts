// `beamhub serve --mles`: how --mles, --mles-key and MLES_KEY are read (in-process), the usage
// errors, and a real serve process with a key: a member with the right auth joins, one without
// is refused, and the status line says so.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveServeOptions, type ServeFlags } from "../../cli/serve-options.js";
import { mlesAuth } from "../../mles/auth.js";
import { MlesClient } from "../mles/mles-client.js";
import { startCli, testConfig } from "./helpers.js";

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-serve-mles-"));
});

afterAll(() => rm(dir, { recursive: true, force: true }));

function resolve(flags: ServeFlags, env: NodeJS.ProcessEnv = {}, file: Record<string, unknown> = {}) {
  return resolveServeOptions(flags, testConfig(dir, file), env);
}

describe("serve's Mles settings", () => {
  it("is off unless asked; a stray MLES_KEY does not turn it on", () => {
    expect(resolve({}).mles).toBeUndefined();
    expect(resolve({}, { MLES_KEY: "k" }).mles).toBeUndefined();
  });

  it("takes the key from --mles-key, BEAMHUB_MLES_KEY or the file, else MLES_KEY", () => {
    expect(resolve({ mles: true }).mles).toEqual({ key: undefined, keySource: undefined });
    expect(resolve({ mles: true }, { MLES_KEY: "env" }).mles).toEqual({ key: "env", keySource: "MLES_KEY" });
    expect(resolve({ mles: true, "mles-key": "flag" }, { MLES_KEY: "env" }).mles).toEqual({
      key: "flag",
      keySource: "--mles-key",
    });
    expect(resolve({}, { BEAMHUB_MLES: "yes", BEAMHUB_MLES_KEY: "b" }).mles).toEqual({
      key: "b",
      keySource: "BEAMHUB_MLES_KEY",
    });
    expect(resolve({}, {}, { mles: true, "mles-key": "f" }).mles).toEqual({
      key: "f",
      keySource: "config key mles-key",
    });
  });

  it("refuses a key without --mles, --mles without https, and an empty key", () => {
    expect(() => resolve({ "mles-key": "k" })).toThrow(/--mles-key needs --mles/);
    expect(() => resolve({ mles: true, "listen-https": "off" })).toThrow(
      /--mles: the Mles face is served on the https listener, which is off/,
    );
    expect(() => resolve({ mles: true, "mles-key": "" })).toThrow(/--mles-key must be a non-empty string/);
  });

  it("warns when the face is reachable from other machines without a key", () => {
    expect(resolve({ mles: true, "listen-https": "0.0.0.0:8443" }).warnings.join("\n")).toMatch(
      /the Mles face on 0\.0\.0\.0 has no key/,
    );
    expect(
      resolve({ mles: true, "listen-https": "0.0.0.0:8443" }, { MLES_KEY: "k" }).warnings.join("\n"),
    ).not.toMatch(/Mles/);
  });
});

describe("beamhub serve --mles with MLES_KEY", () => {
  it("admits members whose auth matches the key, refuses others", { timeout: 60_000 }, async () => {
    const certDir = join(dir, "cert");
    const serve = await startCli(
      [
        "serve",
        "--socket",
        join(dir, "hub.sock"),
        "--listen-https",
        "127.0.0.1:0",
        "--cert-dir",
        certDir,
        "--mles",
      ],
      /mles: Mles clients on wss:\/\/127\.0\.0\.1:(\d+)\/.*/,
      { MLES_KEY: "chat-secret", BEAMHUB_TASKS_FILE: "off" },
    );
    try {
      expect(serve.match[0]).toContain("auth required (key from MLES_KEY)");
      const url = `https://127.0.0.1:${serve.match[1]}`;
      const ca = await readFile(join(certDir, "cert.pem"), "utf8");
      const alice = await MlesClient.join(
        url,
        { uid: "alice", channel: "c", auth: mlesAuth("alice", "c", "chat-secret") },
        { ca },
      );
      const eve = await MlesClient.join(url, { uid: "eve", channel: "c" }, { ca });
      expect(await eve.closedWithin()).toMatchObject({
        code: 1008,
        reason: "EMLES_AUTH: this hub requires auth",
      });
      const bob = await MlesClient.join(
        url,
        { uid: "bob", channel: "c", auth: mlesAuth("bob", "c", "chat-secret") },
        { ca },
      );
      bob.send("hello");
      expect(await alice.texts(1)).toEqual(["hello"]);
      await Promise.all([alice.close(), bob.close()]);
    } finally {
      await serve.stop();
    }
    expect(serve.stderr()).toContain("stopped");
  });
});
