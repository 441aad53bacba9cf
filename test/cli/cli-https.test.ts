// The client commands against a remote hub: `--hub https://...` with the hub's certificate
// pinned (--ca) or found in serve's cert dir, mutual TLS and tokens, the WebSocket transport,
// and failures that name the hub, say what to try and exit with the documented codes.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect, createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  connectUnix,
  createDevCertificate,
  Hub,
  listenHttps,
  type CallContext,
  type Channel,
  type HttpsListener,
  type RemoteHub,
} from "../../index.js";
import { beamhub, startCli, startEchoServer, startServe, within, type RunningCli } from "./helpers.js";
import { beamhubInProcess } from "./in-process.js";

let dir: string;
let certDir: string;
let ca: string;
let hubUrl: string;
let server: RunningCli & { httpsUrl: string };
let client: RemoteHub;
/** The hub's URL and its certificate: what a remote user passes. */
let remote: string[];

/** A second hub, in this process, that requires a client certificate or a token. */
let guarded: { hub: Hub; listener: HttpsListener; upgrades: number };
let guardedCa: string;
let alice: { cert: string; key: string };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-cli-https-"));
  certDir = join(dir, "cert");
  ca = join(certDir, "cert.pem");
  server = await startServe(join(dir, "hub.sock"), certDir);
  hubUrl = server.httpsUrl;
  remote = ["--hub", hubUrl, "--ca", ca];
  client = await connectUnix(join(dir, "hub.sock"));
  await client.register("greet", async (data: { name: string; events?: Channel }) => {
    await data.events?.send({ progress: "looking up" });
    data.events?.close();
    return `hello ${data.name}`;
  });

  const clientCa = await createDevCertificate({ commonName: "test client CA", isCa: true });
  const aliceCert = await createDevCertificate({ commonName: "alice", signedBy: clientCa, hosts: ["alice"] });
  alice = { cert: join(dir, "alice.pem"), key: join(dir, "alice.key") };
  await writeFile(alice.cert, aliceCert.cert);
  await writeFile(alice.key, aliceCert.key);
  const hub = new Hub();
  await hub.register("whoami", (_data: unknown, context: CallContext) => context.caller.identity ?? null);
  const listener = await listenHttps(hub, {
    ca: clientCa.cert,
    requireAuth: true,
    authenticate: (token) => (token === "s3cret" ? { id: "bob" } : undefined),
  });
  guarded = { hub, listener, upgrades: 0 };
  listener.server.on("upgrade", () => guarded.upgrades++);
  guardedCa = join(dir, "guarded.pem");
  await writeFile(guardedCa, listener.certificate);
}, 30_000);

afterAll(async () => {
  await client?.close();
  await guarded?.listener.close();
  await guarded?.hub.close();
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** `beamhub call whoami` against the guarded hub at `url`, trusting its certificate. */
function whoamiAt(url: string): string[] {
  return ["call", "whoami", "--hub", url, "--ca", guardedCa];
}

describe("beamhub client commands over https", { timeout: 60_000 }, () => {
  it("lists services with the hub's certificate pinned by --ca", async () => {
    const listed = await beamhub(["ls", "--json", ...remote]);
    expect(listed.stderr).toBe("");
    expect(listed.code).toBe(0);
    const names = (JSON.parse(listed.stdout) as { name: string }[]).map((service) => service.name);
    expect(names).toEqual(expect.arrayContaining(["hub.info", "greet"]));
  });

  it("calls a service, with events, and reads the request from stdin", async () => {
    const result = await beamhub(["call", "greet", '{"name":"ada"}', "--events", ...remote]);
    expect(result.code).toBe(0);
    expect(result.stdout.split("\n")[0]).toBe('{"progress":"looking up"}');
    expect(result.stdout).toContain('"hello ada"');
    const fromStdin = await beamhub(["call", "greet", "-", ...remote], { input: '{"name":"stdin"}' });
    expect(fromStdin.stdout.trim()).toBe('"hello stdin"');
  });

  it("trusts serve's development certificate for a loopback hub without --ca", async () => {
    const byFlag = await beamhub(["call", "greet", '{"name":"dev"}', "--hub", hubUrl, "--cert-dir", certDir]);
    expect(byFlag.stderr).toBe("");
    expect(byFlag.stdout.trim()).toBe('"hello dev"');
    // Environment only, as a shell profile would set it.
    const byEnv = await beamhub(["call", "greet", '{"name":"env"}'], {
      env: { BEAMHUB_HUB: hubUrl.replace("127.0.0.1", "localhost"), BEAMHUB_CERT_DIR: certDir },
    });
    expect(byEnv.stdout.trim()).toBe('"hello env"');
  });

  it("reads the hub and its certificate from a config file", async () => {
    const config = join(dir, "config.json");
    await writeFile(config, JSON.stringify({ hub: hubUrl, ca, timeout: 5000 }));
    const result = await beamhub(["call", "greet", '{"name":"file"}', "--config", config]);
    expect(result.stdout.trim()).toBe('"hello file"');
  });

  it("watches registrations come and go", async () => {
    const marker = await client.register("remote.marker", () => 1);
    const watcher = await startCli(["watch", "--prefix", "remote.", ...remote], /added\s+remote\.marker/);
    try {
      const job = await client.register("remote.job", () => 1, { labels: { kind: "batch" } });
      await expect.poll(watcher.stdout, { timeout: 5000 }).toMatch(/added\s+remote\.job i\d+ kind=batch/);
      await job.unregister();
      await expect.poll(watcher.stdout, { timeout: 5000 }).toMatch(/removed\s+remote\.job/);
    } finally {
      await watcher.stop();
      await marker.unregister();
    }
  });

  it("exposes a TCP endpoint and connects a local port to it, both over https", async () => {
    const { server: upstream, port: upstreamPort } = await startEchoServer();
    const started: RunningCli[] = [];
    try {
      const exposing = await startCli(
        ["expose", "remote.echo", `tcp://127.0.0.1:${upstreamPort}`, ...remote],
        /exposing .* on (https:\/\/\S+)/,
      );
      started.push(exposing);
      expect(exposing.match[1]).toBe(hubUrl);
      const connecting = await startCli(
        ["connect", "remote.echo", "--listen", "127.0.0.1:0", ...remote],
        /listening on 127\.0\.0\.1:(\d+)/,
      );
      started.push(connecting);
      const reply = await within(
        new Promise<string>((resolve, reject) => {
          let text = "";
          const socket = connect(Number(connecting.match[1]), "127.0.0.1", () => socket.end("over https"));
          socket.on("data", (chunk: Buffer) => (text += chunk.toString()));
          socket.on("end", () => resolve(text));
          socket.on("error", reject);
        }),
        10_000,
        "the echo through the https hub",
      ).catch((error: Error) => {
        // What the gateway processes said is the only clue to a relay that went quiet.
        throw new Error(`${error.message}\nexpose: ${exposing.stderr()}\nconnect: ${connecting.stderr()}`);
      });
      expect(reply).toBe("over https");
      const handoff = await beamhub(["connect", "remote.echo", "--mode", "handoff", ...remote]);
      expect(handoff.code).toBe(2);
      expect(handoff.stderr).toContain("--mode handoff needs a Unix socket hub");
    } finally {
      await Promise.all(started.map((running) => running.stop()));
      upstream.close();
    }
  });

  it("identifies itself with a client certificate or a token; without either it is refused", async () => {
    const url = guarded.listener.url;
    const refused = await beamhub(whoamiAt(url));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`cannot reach the hub at ${url}: it refused the session (401)`);
    expect(refused.stderr).toContain("pass --token <token>");
    const mtls = await beamhub([...whoamiAt(url), "--cert", alice.cert, "--key", alice.key]);
    expect(mtls.stderr).toBe("");
    expect(JSON.parse(mtls.stdout)).toMatchObject({ id: "alice", via: "mtls" });
    const token = await beamhub(whoamiAt(url), {
      env: { BEAMHUB_TOKEN: "s3cret" },
    });
    expect(JSON.parse(token.stdout)).toMatchObject({ id: "bob", via: "token" });
    const wrong = await beamhub([...whoamiAt(url), "--token", "nope"]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("Check --token");
  });

  it("goes over the WebSocket with --transport ws or a wss:// hub", async () => {
    const url = guarded.listener.url;
    const before = guarded.upgrades;
    const forced = await beamhub([...whoamiAt(url), "--token", "s3cret", "--transport", "ws"]);
    expect(JSON.parse(forced.stdout)).toMatchObject({ id: "bob" });
    expect(guarded.upgrades).toBe(before + 1);
    const wss = url.replace("https://", "wss://");
    const byScheme = await beamhub([...whoamiAt(wss), "--token", "s3cret"]);
    expect(JSON.parse(byScheme.stdout)).toMatchObject({ id: "bob" });
    expect(guarded.upgrades).toBe(before + 2);
  });
});

describe("beamhub client commands: failures over https", { timeout: 60_000 }, () => {
  it("a certificate signed by someone else: the TLS problem, what to pass, exit 3", async () => {
    const other = join(dir, "other.pem");
    await writeFile(other, (await createDevCertificate()).cert);
    const wrongCa = await beamhub(["ls", "--hub", hubUrl, "--ca", other]);
    expect(wrongCa.code).toBe(3);
    expect(wrongCa.stderr).toContain(
      `cannot reach the hub at ${hubUrl}: certificate signed by unknown authority (self-signed)`,
    );
    expect(wrongCa.stderr).toContain(`not signed by the CA in --ca ${other}`);
    // No --ca and no development certificate where the client looks: the system CAs refuse it.
    const noCa = await beamhub(["ls", "--hub", hubUrl, "--cert-dir", join(dir, "no-such-dir")]);
    expect(noCa.code).toBe(3);
    expect(noCa.stderr).toMatch(/self-signed.*Pass --ca <file> with the hub's certificate/);
  });

  it("a port nobody listens on: connection refused, exit 3", async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    // call tries again within its --timeout (the hub may be restarting), then gives up.
    const refused = await beamhub([
      "call",
      "greet",
      "--hub",
      `https://127.0.0.1:${port}`,
      "--ca",
      ca,
      "--timeout",
      "1000",
    ]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain(`cannot reach the hub at https://127.0.0.1:${port}: connection refused`);
    expect(refused.stderr).toMatch(/\(tried \d+ times in 1000 ms\)/);
  });

  // Usage errors and --help need no process: in this one (the process's exit code and streams
  // are command-line-process.test.ts's).
  it("rejects bad hub and TLS options as usage errors (exit 2) that say what to do", async () => {
    const results = await Promise.all([
      beamhubInProcess(["ls", "--hub", "http://127.0.0.1:1"]),
      beamhubInProcess(["ls", "--hub", "127.0.0.1:8443"]),
      beamhubInProcess(["ls", "--hub", hubUrl, "--socket", join(dir, "hub.sock")]),
      beamhubInProcess(["ls", "--socket", join(dir, "hub.sock"), "--ca", ca]),
      beamhubInProcess(["ls", "--hub", hubUrl, "--cert", alice.cert]),
      beamhubInProcess(["ls", "--hub", hubUrl, "--ca", join(dir, "missing.pem")]),
      beamhubInProcess(["ls", "--hub", hubUrl, "--ca", ca, "--transport", "carrier-pigeon"]),
    ]);
    expect(results.map((result) => result.code)).toEqual([2, 2, 2, 2, 2, 2, 2]);
    const messages = results.map((result) => result.stderr);
    expect(messages[0]).toContain("use https://127.0.0.1:1");
    expect(messages[1]).toContain("did you mean https://127.0.0.1:8443?");
    expect(messages[2]).toContain("either --hub or --socket");
    expect(messages[3]).toContain("--ca applies only to an https:// hub");
    expect(messages[4]).toContain("needs both --cert and --key");
    expect(messages[5]).toContain("cannot read --ca file");
    expect(messages[6]).toContain("--transport (BEAMHUB_TRANSPORT) must be auto, http2 or ws");
  });

  it("documents the hub options in each client command's --help", async () => {
    const helps = await Promise.all(
      ["ls", "watch", "call", "expose", "connect"].map((command) => beamhubInProcess([command, "--help"])),
    );
    for (const help of helps) {
      expect(help.code).toBe(0);
      for (const flag of ["--hub", "--ca", "--cert", "--key", "--token", "--transport"]) {
        expect(help.stdout).toContain(flag);
      }
    }
  });
});
