// `beamhub serve` as a network hub, configured as an operator would: a CA-signed certificate,
// mutual TLS, a tokens file, --require-auth, access rules from a config file, extra names for
// the development certificate, no https at all — each in a real `serve` process on a free port,
// reached by the real client commands, every wait bounded.
import { X509Certificate } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { connectUnix, createDevCertificate, type CallContext, type RemoteHub } from "../../index.js";
import { beamhub, startCli, within, type RunningCli } from "./helpers.js";
import { beamhubInProcess } from "./in-process.js";
import { makePki, opensslFingerprint, type Pki } from "./pki.js";

let dir: string;
let pki: Pki;
/** What each test started, stopped after it. */
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-serve-security-"));
  pki = await makePki(dir);
}, 30_000);

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A running `beamhub serve` and what its status lines said. */
interface Serving extends RunningCli {
  socket: string;
  /** The https URL, as printed (undefined with --listen-https off). */
  url: string | undefined;
  /** The https status line. */
  httpsLine: string | undefined;
  /** The certificate's SHA-256 fingerprint, as printed. */
  fingerprint: string | undefined;
}

/** Starts `beamhub serve <args>` on its own socket; stopped after the test. */
async function serve(name: string, args: string[], env: Record<string, string> = {}): Promise<Serving> {
  const socket = join(dir, `${name}.sock`);
  const running = await startCli(["serve", "--socket", socket, ...args], /press Ctrl-C/, env);
  cleanups.push(() => running.stop());
  const httpsLine = running
    .stderr()
    .split("\n")
    .find((line) => line.includes("serving on https://"));
  return {
    ...running,
    socket,
    url: httpsLine?.match(/serving on (https:\/\/\S+)/)?.[1],
    httpsLine,
    fingerprint: httpsLine?.match(/SHA-256 ([0-9A-F:]+)/)?.[1],
  };
}

/** A client on the hub's Unix socket (never subject to https authentication); closed after the test. */
async function unixClient(socket: string): Promise<RemoteHub> {
  const client = await connectUnix(socket);
  cleanups.push(() => client.close());
  return client;
}

/** serve's flags for https on a free loopback port with the test CA's server certificate. */
const signedHttps = (): string[] => [
  "--listen-https",
  "127.0.0.1:0",
  "--tls-cert",
  pki.server.cert,
  "--tls-key",
  pki.server.key,
];

/** The identity a call arrived with: what a service sees of its caller. */
const whoami = (_data: unknown, context: CallContext): unknown => context.caller.identity ?? null;

describe("beamhub serve as a network hub", { timeout: 60_000 }, () => {
  it("presents a CA-signed certificate from --tls-cert/--tls-key, pinned by clients with --ca", async () => {
    const certDir = join(dir, "unused-dev-cert");
    const hub = await serve("signed", [...signedHttps(), "--cert-dir", certDir]);
    expect(hub.stderr()).toMatch(/serving on unix:\/\/\S+signed\.sock \(mode 0600/);
    expect(hub.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(hub.httpsLine).toContain(`certificate ${pki.server.cert}`);
    expect(hub.fingerprint).toBe(await opensslFingerprint(pki.server.cert));
    expect(hub.httpsLine).toContain("auth: none");
    expect(hub.stderr()).not.toContain("warning:");
    expect(existsSync(certDir)).toBe(false); // no development certificate was made

    const listed = await beamhub(["ls", "--json", "--hub", hub.url!, "--ca", pki.serverCa.cert]);
    expect(listed.stderr).toBe("");
    expect(listed.code).toBe(0);
    expect((JSON.parse(listed.stdout) as { name: string }[]).map((service) => service.name)).toContain(
      "hub.info",
    );
  });

  it("requires a client certificate or a token: refuses peers with neither, shows the identity to services", async () => {
    const tokens = join(dir, "tokens.txt");
    await writeFile(tokens, "# CI tokens\n\nbob-token-4f1c bob\n", { mode: 0o600 });
    const hub = await serve("guarded", [
      ...signedHttps(),
      "--client-ca",
      pki.clientCa.cert,
      "--tokens",
      tokens,
      "--require-auth",
    ]);
    expect(hub.httpsLine).toContain(
      `auth: client certificates signed by ${pki.clientCa.cert} or bearer tokens (1 in ${tokens}), required`,
    );
    await (await unixClient(hub.socket)).register("whoami", whoami);
    const remote = ["call", "whoami", "--hub", hub.url!, "--ca", pki.serverCa.cert];
    const alice = ["--cert", pki.alice.cert, "--key", pki.alice.key];
    const mallory = ["--cert", pki.mallory.cert, "--key", pki.mallory.key];
    const [anonymous, byCertificate, byToken, wrongToken, wrongCa] = await Promise.all([
      beamhub(remote),
      beamhub([...remote, ...alice]),
      beamhub(remote, { env: { BEAMHUB_TOKEN: "bob-token-4f1c" } }),
      beamhub(remote, { env: { BEAMHUB_TOKEN: "bob-token-guess" } }),
      beamhub([...remote, ...mallory]),
    ]);
    expect(anonymous.code).toBe(1); // EXIT.failed: the hub answered and refused the credentials
    expect(anonymous.stderr).toContain(`cannot reach the hub at ${hub.url}: it refused the session (401)`);
    expect(anonymous.stderr).toContain("The hub requires authentication");
    expect(byCertificate.stderr).toBe("");
    expect(JSON.parse(byCertificate.stdout)).toMatchObject({ id: "alice", via: "mtls" });
    expect(JSON.parse(byToken.stdout)).toEqual({ id: "bob", via: "token" });
    expect(wrongToken.code).toBe(1);
    expect(wrongToken.stderr).toContain("Check --token");
    expect(wrongCa.code).toBe(1);
    expect(wrongCa.stderr).toContain("client certificate was not accepted");
    expect(hub.stderr()).not.toContain("bob-token"); // tokens are never logged
  });

  it("reads the tokens file again on SIGHUP, keeping the old tokens when the new file is broken", async () => {
    const tokens = join(dir, "rotating-tokens.txt");
    await writeFile(tokens, "old-token-71a carol\n", { mode: 0o600 });
    const hub = await serve("rotating", [...signedHttps(), "--tokens", tokens, "--require-auth"]);
    await (await unixClient(hub.socket)).register("whoami", whoami);
    const remote = ["call", "whoami", "--hub", hub.url!, "--ca", pki.serverCa.cert];
    const withToken = (token: string) => beamhub(remote, { env: { BEAMHUB_TOKEN: token } });
    const signalled = async (line: RegExp): Promise<void> => {
      hub.child.kill("SIGHUP");
      await within(
        new Promise<void>((resolve) => {
          const check = (): void => void (line.test(hub.stderr()) ? resolve() : setTimeout(check, 20));
          check();
        }),
        5_000,
        `serve to log ${line}`,
      );
    };
    expect(JSON.parse((await withToken("old-token-71a")).stdout)).toEqual({ id: "carol", via: "token" });

    await writeFile(tokens, "new-token-93b dave\n", { mode: 0o600 });
    await signalled(/SIGHUP: reloaded 1 tokens from /);
    const [old, rotated] = await Promise.all([withToken("old-token-71a"), withToken("new-token-93b")]);
    expect(old.code).toBe(1);
    expect(old.stderr).toContain("Check --token");
    expect(JSON.parse(rotated.stdout)).toEqual({ id: "dave", via: "token" });

    await writeFile(tokens, "only-one-field\n", { mode: 0o600 });
    await signalled(/SIGHUP: kept the previous tokens: .*line 1: expected "TOKEN NAME"/);
    expect(JSON.parse((await withToken("new-token-93b")).stdout)).toEqual({ id: "dave", via: "token" });
    expect(hub.stderr()).not.toMatch(/old-token|new-token/);
  });

  it("takes its settings from a config file, BEAMHUB_* over the file, and applies its access rules", async () => {
    const tokens = join(dir, "tokens.json");
    await writeFile(
      tokens,
      JSON.stringify({ "alice-9d2e": "alice", "bob-77a1": { id: "bob", attributes: { team: "ops" } } }),
      { mode: 0o600 },
    );
    const config = join(dir, "serve.json");
    await writeFile(
      config,
      JSON.stringify({
        "listen-https": "127.0.0.1:1", // BEAMHUB_LISTEN_HTTPS below wins
        "tls-cert": pki.server.cert,
        "tls-key": pki.server.key,
        tokens,
        "require-auth": true,
        access: [
          { who: "alice", call: ["*"], register: ["*"] },
          { who: "*", call: ["public.*"], register: ["{id}.*"] },
        ],
      }),
    );
    const hub = await serve("configured", ["--config", config], { BEAMHUB_LISTEN_HTTPS: "127.0.0.1:0" });
    expect(hub.url).not.toMatch(/:1$/);
    expect(hub.httpsLine).toContain("auth: bearer tokens (2 in");
    expect(hub.httpsLine).toContain("access rules: 2");
    const local = await unixClient(hub.socket); // the Unix socket is not subject to the rules
    await local.register("whoami", whoami);
    await local.register("public.whoami", whoami);
    const remote = ["--hub", hub.url!, "--ca", pki.serverCa.cert];
    const asBob = { env: { BEAMHUB_TOKEN: "bob-77a1" } };
    const [bobPublic, bobPrivate, bobList, alicePrivate] = await Promise.all([
      beamhub(["call", "public.whoami", ...remote], asBob),
      beamhub(["call", "whoami", ...remote], asBob),
      beamhub(["ls", "--json", ...remote], asBob),
      beamhub(["call", "whoami", ...remote, "--token", "alice-9d2e"]),
    ]);
    expect(JSON.parse(bobPublic.stdout)).toEqual({ id: "bob", via: "token", attributes: { team: "ops" } });
    expect(bobPrivate.code).toBe(1);
    expect(bobPrivate.stderr).toContain('EFORBIDDEN forbidden: identity "bob" may not call "whoami"');
    // What bob may not call, he does not see either.
    expect((JSON.parse(bobList.stdout) as { name: string }[]).map((service) => service.name)).toEqual([
      "public.whoami",
    ]);
    expect(JSON.parse(alicePrivate.stdout)).toMatchObject({ id: "alice", via: "token" });
  });

  it("adds --dev-cert-hosts to the development certificate, replacing a stored one without them", async () => {
    const certDir = join(dir, "dev-cert");
    const certPath = join(certDir, "cert.pem");
    // A development certificate from an earlier run: localhost only.
    const old = await createDevCertificate();
    await rm(certDir, { recursive: true, force: true });
    await mkdir(certDir, { recursive: true, mode: 0o700 });
    await writeFile(certPath, old.cert);
    await writeFile(join(certDir, "key.pem"), old.key, { mode: 0o600 });
    const hosts = ["--cert-dir", certDir, "--dev-cert-hosts", "127.0.0.2,beamhub-test.example"];
    // On every interface without authentication: it runs, and warns.
    const first = await serve("dev-hosts", ["--listen-https", "0.0.0.0:0", ...hosts]);
    expect(first.stderr()).toContain(
      `the development certificate ${certPath} was not valid for 127.0.0.2, beamhub-test.example: made a new one`,
    );
    expect(first.stderr()).toContain(
      "warning: the https listener on 0.0.0.0 is reachable from other machines and has no authentication",
    );
    const made = new X509Certificate(await readFile(certPath));
    expect(made.fingerprint256).not.toBe(new X509Certificate(old.cert).fingerprint256);
    expect(first.fingerprint).toBe(made.fingerprint256);
    expect(made.checkIP("127.0.0.2")).toBe("127.0.0.2");
    expect(made.checkHost("beamhub-test.example")).toBe("beamhub-test.example");
    expect(made.checkHost("localhost")).toBe("localhost");
    expect(first.httpsLine).toContain(
      "development, for localhost, 127.0.0.1, ::1, 127.0.0.2, beamhub-test.example",
    );
    // Reached by one of the new names, pinning the new certificate.
    const port = new URL(first.url!).port;
    const listed = await beamhub(["ls", "--hub", `https://127.0.0.2:${port}`, "--ca", certPath]);
    expect(listed.stderr).toBe("");
    expect(listed.code).toBe(0);
    await first.stop();

    // The next start with the same names keeps the stored certificate.
    const second = await serve("dev-hosts-again", ["--listen-https", "127.0.0.1:0", ...hosts]);
    expect(second.stderr()).not.toContain("made a new one");
    expect(second.stderr()).not.toContain("warning:");
    expect(second.fingerprint).toBe(made.fingerprint256);
  });

  it("runs without https with --listen-https off (settings for it from the environment are ignored, with a warning)", async () => {
    const hub = await serve("unix-only", ["--listen-https", "off"], {
      BEAMHUB_TOKENS: join(dir, "none.txt"),
    });
    expect(hub.url).toBeUndefined();
    expect(hub.stderr()).not.toContain("https://");
    expect(hub.stderr()).toContain("warning: BEAMHUB_TOKENS is ignored: the https listener is off");
    const listed = await beamhub(["ls", "--json", "--socket", hub.socket]);
    expect(listed.code).toBe(0);
  });
});

describe("beamhub serve: bad settings", { timeout: 60_000 }, () => {
  it("exits 2 before listening, naming the flag and the problem", async () => {
    const notPem = join(dir, "not.pem");
    await writeFile(notPem, "hello\n");
    const socket = join(dir, "never.sock");
    const tls = (cert: string, key: string): string[] => ["--tls-cert", cert, "--tls-key", key];
    const cases: [args: string[], message: string][] = [
      [
        tls(join(dir, "missing.pem"), pki.server.key),
        `cannot read --tls-cert file ${join(dir, "missing.pem")}`,
      ],
      [tls(pki.server.cert, notPem), `--tls-key file ${notPem} is not PEM`],
      [
        tls(pki.server.cert, pki.alice.key),
        `--tls-key file ${pki.alice.key} does not match the certificate in --tls-cert ${pki.server.cert}`,
      ],
      [["--listen-https", "localhost:99999"], "--listen-https takes HOST:PORT"],
      [["--require-auth"], "--require-auth needs --client-ca FILE or --tokens FILE"],
      [["--cert", pki.server.cert], "--cert is a client option; serve takes --tls-cert FILE"],
    ];
    // In this process: a usage error needs no process of its own (exit codes of real processes
    // are command-line-process.test.ts's).
    const results = await Promise.all(
      cases.map(([args]) => beamhubInProcess(["serve", "--socket", socket, ...args])),
    );
    results.forEach((result, index) => {
      expect({ code: result.code, stderr: result.stderr }).toEqual({
        code: 2,
        stderr: expect.stringContaining(cases[index]![1]),
      });
    });
    expect(existsSync(socket)).toBe(false);
  });

  it("documents every option in serve --help", async () => {
    const help = await beamhubInProcess(["serve", "--help"]);
    expect(help.code).toBe(0);
    for (const flag of [
      "--listen-https",
      "--tls-cert",
      "--tls-key",
      "--dev-cert-hosts",
      "--client-ca",
      "--tokens",
      "--require-auth",
      "--cert-dir",
      "--config",
      "BEAMHUB_LISTEN_HTTPS",
      '"access"',
    ]) {
      expect(help.stdout).toContain(flag);
    }
  });
});
