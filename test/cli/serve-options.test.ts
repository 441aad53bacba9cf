// How `beamhub serve` reads its settings, in-process: listen addresses, the tokens file, access
// rules, --dev-cert-hosts, precedence (flag, then BEAMHUB_*, then the config file) and the
// usage errors, each naming the setting it is about. The processes themselves are in
// cli-serve-security.test.ts.
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDevCertificate, type Identity } from "../../index.js";
import { parseAccessRules } from "../../cli/access-rules.js";
import type { CliConfig } from "../../cli/config.js";
import { parseDevCertHosts } from "../../cli/dev-cert.js";
import { parseListenAddress } from "../../cli/listen-address.js";
import { resolveServeOptions, type ServeFlags } from "../../cli/serve-options.js";
import { testConfig } from "./helpers.js";
import { loadTokens } from "../../cli/tokens-file.js";

let dir: string;
let cert: string;
let key: string;
let caFile: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-serve-options-"));
  const pair = await createDevCertificate();
  cert = join(dir, "cert.pem");
  key = join(dir, "key.pem");
  await writeFile(cert, pair.cert);
  await writeFile(key, pair.key, { mode: 0o600 });
  caFile = join(dir, "ca.pem");
  await writeFile(caFile, (await createDevCertificate({ isCa: true, commonName: "CA" })).cert);
});

afterAll(() => rm(dir, { recursive: true, force: true }));

function configWith(file: Record<string, unknown> = {}): CliConfig {
  return testConfig(dir, file);
}

function resolve(flags: ServeFlags, env: NodeJS.ProcessEnv = {}, file: Record<string, unknown> = {}) {
  return resolveServeOptions(flags, configWith(file), env);
}

const setting = (value: string, source = "--listen-https") => ({ value, source });

describe("--listen-https", () => {
  it("takes HOST:PORT, [IPv6]:PORT, HOST, PORT or off", () => {
    expect(parseListenAddress(setting("0.0.0.0:9000"))).toEqual({ host: "0.0.0.0", port: 9000 });
    expect(parseListenAddress(setting("[::]:9000"))).toEqual({ host: "::", port: 9000 });
    expect(parseListenAddress(setting("hub.example"))).toEqual({ host: "hub.example", port: 8443 });
    expect(parseListenAddress(setting("9000"))).toEqual({ host: "127.0.0.1", port: 9000 });
    expect(parseListenAddress(setting("OFF"))).toBeUndefined();
  });

  it("refuses what it would have to guess, saying why", () => {
    expect(() => parseListenAddress(setting(":8443"))).toThrow(
      /names no host: use 127\.0\.0\.1 .* or 0\.0\.0\.0/,
    );
    expect(() => parseListenAddress(setting("::1:8443"))).toThrow(/HOST:PORT/);
    expect(() => parseListenAddress(setting("::1"))).toThrow(/needs brackets .*\[::1\]:8443/);
    expect(() => parseListenAddress(setting("127.0.0.1:65536"))).toThrow(/no port from 0 to 65535/);
    expect(() => parseListenAddress(setting("127.0.0.1:"))).toThrow(/no port/);
    expect(() => parseListenAddress(setting("bad host:1", "BEAMHUB_LISTEN_HTTPS"))).toThrow(
      /^BEAMHUB_LISTEN_HTTPS takes HOST:PORT/,
    );
  });
});

describe("the tokens file", () => {
  async function tokensFile(name: string, text: string, mode = 0o600): Promise<string> {
    const file = join(dir, name);
    await writeFile(file, text);
    await chmod(file, mode);
    return file;
  }

  it("maps tokens to identities, from lines or JSON", async () => {
    const lines = loadTokens(
      setting(await tokensFile("t.txt", "# comment\n\n  tok-1   alice\ntok-2 bob\n"), "--tokens"),
    );
    expect(lines.count).toBe(2);
    expect(lines.warnings).toEqual([]);
    const peer = { remoteAddress: "127.0.0.1", transport: "http2" as const };
    expect(await lines.authenticate("tok-2", peer)).toEqual({ id: "bob" });
    expect(await lines.authenticate("tok-3", peer)).toBeUndefined();
    const json = loadTokens(
      setting(
        await tokensFile("t.json", '{"a": "alice", "b": {"id": "bob", "attributes": {"x": 1}}}'),
        "--tokens",
      ),
    );
    expect(await json.authenticate("b", peer)).toEqual({ id: "bob", attributes: { x: 1 } });
  });

  it("warns when other users can read it", async () => {
    const file = await tokensFile("open.txt", "tok alice\n", 0o644);
    expect(loadTokens(setting(file, "--tokens")).warnings).toEqual([
      `--tokens file ${file} is readable by other users (mode 644): chmod 600 it`,
    ]);
  });

  it("names the line or entry of a mistake, never the token", async () => {
    const cases: [text: string, message: RegExp][] = [
      ["ok alice\nsecret-one\n", /line 2: expected "TOKEN NAME" \(two fields\), found 1/],
      ["secret-one alice\nsecret-one bob\n", /line 2: this token is listed twice/],
      ["# nothing\n", /holds no tokens/],
      ['{"secret-one": "alice", "secret-two": 3}', /entry 2: the value must be an identity name/],
      ['{"secret-one": alice}', /not valid JSON/],
    ];
    for (const [index, [text, message]] of cases.entries()) {
      const file = await tokensFile(`bad-${index}.txt`, text);
      let error: Error | undefined;
      try {
        loadTokens(setting(file, "--tokens"));
      } catch (caught) {
        error = caught as Error;
      }
      expect(error?.message).toMatch(message);
      expect(error?.message).toContain(`--tokens file ${file}`);
      expect(error?.message).not.toMatch(/secret/);
    }
  });
});

describe("access rules", () => {
  const alice: Identity = { id: "alice", via: "token" };
  const ci: Identity = { id: "ci-7", via: "mtls" };
  const local: Identity = { id: "unix", via: "unix" };
  const { rules, count } = parseAccessRules(
    [
      { who: "alice", call: ["*"] },
      { who: ["ci-*"], call: "jobs.*", register: ["{id}.*"] },
      { anonymous: true, call: ["hub.info"] },
    ],
    "config key access",
  );

  it("grant what a matching entry names, and nothing else", () => {
    expect(count).toBe(3);
    expect(rules.call!(alice, "admin.reset")).toBe(true);
    expect(rules.register!(alice, "alice.svc")).toBe(false);
    expect(rules.call!(ci, "jobs.build")).toBe(true);
    expect(rules.call!(ci, "admin.reset")).toBe(false);
    expect(rules.register!(ci, "ci-7.worker")).toBe(true);
    expect(rules.register!(ci, "ci-8.worker")).toBe(false);
    expect(rules.call!(undefined, "hub.info")).toBe(true);
    expect(rules.call!(undefined, "jobs.build")).toBe(false);
    expect(rules.register!(undefined, "undefined.x")).toBe(false);
    // A Unix peer whose credentials are unknown is nobody in particular: anonymous, not exempt.
    expect(rules.register!(local, "anything")).toBe(false);
    expect(rules.call!(local, "hub.info")).toBe(true);
  });

  it("treat {id} and everything but * literally", () => {
    const { rules: literal } = parseAccessRules([{ who: "*", call: ["a.b", "{id}"] }], "access");
    expect(literal.call!(alice, "a.b")).toBe(true);
    expect(literal.call!(alice, "aXb")).toBe(false);
    expect(literal.call!({ id: "x.*", via: "token" }, "x.*")).toBe(true);
    expect(literal.call!({ id: "x.*", via: "token" }, "x.y")).toBe(false);
  });

  it("refuse a malformed entry, naming it", () => {
    expect(() => parseAccessRules({ who: "alice" }, "config key access")).toThrow(
      /^config key access must be a list/,
    );
    expect(() => parseAccessRules([{ who: "a", calls: ["*"] }], "config key access")).toThrow(
      /config key access\[0\] has unknown key "calls"/,
    );
    expect(() => parseAccessRules([{ call: ["*"] }], "access")).toThrow(/access\[0\] names nobody/);
    expect(() => parseAccessRules([{ who: "a" }], "access")).toThrow(/access\[0\] grants nothing/);
    expect(() => parseAccessRules([{ who: "a", call: [1] }], "access")).toThrow(/access\[0\]\.call must be/);
  });
});

describe("--dev-cert-hosts", () => {
  it("takes names and addresses separated by commas or spaces, or a list", () => {
    expect(parseDevCertHosts({ value: "vm.local, 10.0.0.5 [fd00::1]", source: "--dev-cert-hosts" })).toEqual([
      "vm.local",
      "10.0.0.5",
      "fd00::1",
    ]);
    expect(parseDevCertHosts({ value: ["a.example"], source: "config key dev-cert-hosts" })).toEqual([
      "a.example",
    ]);
    expect(() => parseDevCertHosts({ value: "ok.example,bad host!", source: "--dev-cert-hosts" })).toThrow(
      '--dev-cert-hosts: "host!" is neither a DNS name nor an IP address',
    );
    expect(() => parseDevCertHosts({ value: " , ", source: "--dev-cert-hosts" })).toThrow(/names no host/);
  });
});

describe("serve's settings", () => {
  it("come from the flag, then BEAMHUB_*, then the config file, and errors name which", () => {
    const missing = join(dir, "missing.pem");
    const file = { "tls-cert": missing, "tls-key": key };
    expect(() => resolve({}, {}, file)).toThrow(`cannot read config key tls-cert file ${missing}`);
    expect(() => resolve({}, { BEAMHUB_TLS_CERT: missing }, { "tls-cert": cert, "tls-key": key })).toThrow(
      `cannot read BEAMHUB_TLS_CERT file ${missing}`,
    );
    const fromFlag = resolve({ "tls-cert": cert }, { BEAMHUB_TLS_CERT: missing }, file);
    expect(fromFlag.https?.certificate).toMatchObject({ kind: "files", certFile: cert });
    expect(resolve({}, { BEAMHUB_LISTEN_HTTPS: "0.0.0.0:1" }).https?.address).toEqual({
      host: "0.0.0.0",
      port: 1,
    });
    expect(resolve({ https: "127.0.0.1:2" }, { BEAMHUB_LISTEN_HTTPS: "0.0.0.0:1" }).https?.address.port).toBe(
      2,
    );
    expect(resolve({ "no-https": true }).https).toBeUndefined();
    expect(resolve({}).https?.address).toEqual({ host: "127.0.0.1", port: 8443 });
  });

  it("refuse combinations that cannot work", () => {
    expect(() => resolve({ "tls-key": key })).toThrow("--tls-key needs --tls-cert");
    expect(() => resolve({ "tls-cert": cert, "tls-key": key, "dev-cert-hosts": "a.example" })).toThrow(
      "--dev-cert-hosts applies to the generated development certificate, not to --tls-cert",
    );
    expect(() => resolve({ "listen-https": "off", "client-ca": caFile })).toThrow(
      "--client-ca configures the https listener, which is off",
    );
    expect(() => resolve({}, { BEAMHUB_REQUIRE_AUTH: "maybe" })).toThrow(
      'BEAMHUB_REQUIRE_AUTH must be true or false, got "maybe"',
    );
    expect(() => resolve({}, {}, { "require-auth": true })).toThrow(
      "config key require-auth needs --client-ca",
    );
    expect(() => resolve({ "client-ca": key })).toThrow(
      `--client-ca file ${key} holds no usable CA certificate`,
    );
  });

  it("warn about a listener other machines reach that lets anyone in", () => {
    expect(resolve({ "listen-https": "0.0.0.0:0" }).warnings).toEqual([
      expect.stringContaining(
        "the https listener on 0.0.0.0 is reachable from other machines and has no authentication",
      ),
    ]);
    expect(resolve({ "listen-https": "[::]:0", "client-ca": caFile }).warnings).toEqual([
      expect.stringContaining("lets in peers without credentials (as anonymous): add --require-auth"),
    ]);
    expect(
      resolve({ "listen-https": "0.0.0.0:0", "client-ca": caFile, "require-auth": true }).warnings,
    ).toEqual([]);
    expect(resolve({ "listen-https": "localhost:0" }).warnings).toEqual([]);
  });
});
