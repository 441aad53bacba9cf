// Access rules that name Unix users and groups (by the kernel credentials of UnixIdentity), the
// hub owners' default (this uid and root may do everything), Unix peers with unknown
// credentials treated as anonymous, and the Unix settings of `serve` (--socket-mode and the
// connection caps). In-process; the processes are in cli-unix-access.test.ts.
import { join } from "node:path";
import { tmpdir } from "node:os";
import { describe, expect, it } from "vitest";
import type { Identity, UnixIdentity } from "../../index.js";
import { defaultAccessRules, isHubOwner, parseAccessRules } from "../../cli/access-rules.js";
import type { CliConfig } from "../../cli/config.js";
import { resolveServeOptions, type ServeFlags } from "../../cli/serve-options.js";

const HUB_UID = 1000;
/** Identities as the Unix listener makes them from kernel credentials (see hub/remote/unix-identity.ts). */
const unixPeer = (uid: number, user: string | undefined, gids: number[], groups: string[]): UnixIdentity => ({
  id: `unix:${user ?? uid}`,
  via: "unix",
  uid,
  gid: gids[0]!,
  pid: 100 + uid,
  ...(user === undefined ? {} : { user }),
  gids,
  groups,
});
const owner = unixPeer(HUB_UID, "hubuser", [1000], ["hubuser"]);
const root = unixPeer(0, "root", [0], ["root"]);
const nobody = unixPeer(65534, "nobody", [65534], ["nogroup"]);
/** A uid no user database names, in gid 4242 and supplementary 4343 (no names either). */
const numbered = unixPeer(4242424, undefined, [4242, 4343], ["4242", "4343"]);
const unknown: Identity = { id: "unix", via: "unix" };
/** A certificate peer whose CN pretends to be a Unix user. */
const pretender: Identity = { id: "unix:nobody", via: "mtls" };
const alice: Identity = { id: "alice", via: "token" };

describe("access rules naming Unix users and groups", () => {
  const { rules } = parseAccessRules(
    [
      { who: "unix:nobody", call: ["public.*"] },
      { who: "unix:4242424", call: ["numbered.*"] },
      { who: "unix-group:4343", register: ["{id}.*"] },
      { who: "unix-group:nog*", call: ["group.*"] },
      { who: "alice", call: ["alice.*"] },
      { anonymous: true, call: ["hub.info"] },
    ],
    "config key access",
    HUB_UID,
  );

  it("match a Unix peer by user name or uid, and by group name or gid", () => {
    expect(rules.call!(nobody, "public.echo")).toBe(true);
    expect(rules.call!(nobody, "private.echo")).toBe(false);
    expect(rules.call!(numbered, "numbered.x")).toBe(true);
    expect(rules.call!(nobody, "numbered.x")).toBe(false);
    expect(rules.register!(numbered, "unix:4242424.svc")).toBe(true);
    expect(rules.register!(numbered, "unix:other.svc")).toBe(false);
    expect(rules.call!(nobody, "group.x")).toBe(true);
    expect(rules.call!(numbered, "group.x")).toBe(false);
  });

  it("let the hub's own uid and root do everything, whatever the rules", () => {
    expect(isHubOwner(owner, HUB_UID)).toBe(true);
    expect(isHubOwner(root, HUB_UID)).toBe(true);
    expect(isHubOwner(nobody, HUB_UID)).toBe(false);
    expect(rules.register!(owner, "anything")).toBe(true);
    expect(rules.call!(root, "private.echo")).toBe(true);
  });

  it("never let unix: entries match another transport's identity, nor plain entries a Unix peer", () => {
    expect(rules.call!(pretender, "public.echo")).toBe(false);
    expect(isHubOwner({ id: "unix:root", via: "mtls" }, HUB_UID)).toBe(false);
    const bob = unixPeer(4242, "bob", [4242], ["bob"]);
    const { rules: plain } = parseAccessRules([{ who: "*bob*", call: ["x"] }], "a", HUB_UID);
    expect(plain.call!({ id: "unix:bob", via: "token" }, "x")).toBe(true); // a token's id, as text
    expect(plain.call!(bob, "x")).toBe(false);
    const { rules: unixOnly } = parseAccessRules([{ who: "unix:*bob*", call: ["x"] }], "a", HUB_UID);
    expect(unixOnly.call!(bob, "x")).toBe(true);
    expect(unixOnly.call!({ id: "unix:bob", via: "token" }, "x")).toBe(false);
    expect(unixOnly.call!(alice, "x")).toBe(false);
  });

  it('count identified Unix peers in "*", and Unix peers with unknown credentials as anonymous', () => {
    const { rules: everyone } = parseAccessRules(
      [
        { who: "*", call: ["shared.*"] },
        { anonymous: true, call: ["hub.info"], register: ["{id}.x"] },
      ],
      "a",
      HUB_UID,
    );
    expect(everyone.call!(nobody, "shared.x")).toBe(true);
    expect(everyone.call!(unknown, "shared.x")).toBe(false);
    expect(everyone.call!(unknown, "hub.info")).toBe(true);
    // An anonymous peer has no id to put in {id}.
    expect(everyone.register!(unknown, "unix.x")).toBe(false);
    expect(rules.call!(unknown, "hub.info")).toBe(true);
    expect(rules.call!(unknown, "public.echo")).toBe(false);
    // Unknown credentials are never the hub's owner, even with the owner's rules.
    expect(isHubOwner(unknown, HUB_UID)).toBe(false);
  });

  it("refuse unix: and unix-group: entries that name nobody", () => {
    expect(() => parseAccessRules([{ who: "unix:", call: ["*"] }], "access")).toThrow(
      /access\[0\]\.who "unix:" names no user/,
    );
    expect(() => parseAccessRules([{ who: ["unix-group:"], call: ["*"] }], "access")).toThrow(
      /names no group \(e\.g\. "unix-group:alice"\)/,
    );
  });
});

describe("without access rules", () => {
  const rules = defaultAccessRules(HUB_UID);

  it("the hub's owners may do everything, other Unix users and unknown credentials nothing", () => {
    expect(rules.call!(owner, "x")).toBe(true);
    expect(rules.register!(root, "x")).toBe(true);
    expect(rules.call!(nobody, "hub.info")).toBe(false);
    expect(rules.register!(nobody, "x")).toBe(false);
    expect(rules.call!(unknown, "x")).toBe(false);
  });

  it("https peers may do everything, as before", () => {
    expect(rules.call!(alice, "x")).toBe(true);
    expect(rules.register!(undefined, "x")).toBe(true);
  });
});

describe("serve's Unix settings", () => {
  const socket = join(tmpdir(), "beamhub-unix-settings.sock");
  const config = (file: Record<string, unknown> = {}, socketIsDefault = false): CliConfig => ({
    hub: { kind: "unix", path: socket, text: `unix://${socket}` },
    hubSource: "test",
    socket,
    socketIsDefault,
    timeout: 1000,
    reconnect: { maxAttempts: Infinity, giveUpAfter: Infinity },
    tls: { transport: "auto", certDir: join(tmpdir(), "unused-dev-cert") },
    file,
  });
  const resolve = (
    flags: ServeFlags,
    env: NodeJS.ProcessEnv = {},
    file: Record<string, unknown> = {},
    isDefault = false,
  ) => resolveServeOptions({ "listen-https": "off", ...flags }, config(file, isDefault), env);

  it("default to mode 0600 and caps of 1024 connections, 256 per uid", () => {
    expect(resolve({}).unix).toEqual({ mode: 0o600, maxConnections: 1024, maxConnectionsPerUid: 256 });
  });

  it("take flags, then BEAMHUB_* variables, then config keys", () => {
    expect(
      resolve(
        { "socket-mode": "0660", "max-unix-connections": "50" },
        { BEAMHUB_MAX_UNIX_CONNECTIONS: "7", BEAMHUB_MAX_UNIX_CONNECTIONS_PER_UID: "3" },
        { "socket-mode": "0666", "max-unix-connections-per-uid": 9 },
      ).unix,
    ).toEqual({ mode: 0o660, maxConnections: 50, maxConnectionsPerUid: 3 });
    // The per-uid default never exceeds a smaller total.
    expect(resolve({ "max-unix-connections": "10" }).unix.maxConnectionsPerUid).toBe(10);
  });

  it("warn that other users may connect when the mode lets them, saying what they may do", () => {
    expect(resolve({ "socket-mode": "666" }).warnings.join("\n")).toMatch(
      /mode 0666: every local user may connect and, without access rules, do nothing/,
    );
    expect(
      resolve({ "socket-mode": "0660" }, {}, { access: [{ who: "unix:bob", call: ["*"] }] }).warnings.join(
        "\n",
      ),
    ).toMatch(/mode 0660: its group may connect and do what the access rules grant them/);
  });

  it("refuse a mode or cap that makes no sense, naming the setting", () => {
    expect(() => resolve({ "socket-mode": "0777" })).toThrow(/--socket-mode must be 0600 .* got "0777"/);
    expect(() => resolve({}, { BEAMHUB_SOCKET_MODE: "rw" })).toThrow(/BEAMHUB_SOCKET_MODE must be 0600/);
    expect(() => resolve({ "max-unix-connections": "0" })).toThrow(
      /--max-unix-connections must be a whole number of connections, at least 1, got "0"/,
    );
    expect(() => resolve({}, {}, { "max-unix-connections-per-uid": "lots" })).toThrow(
      /config key max-unix-connections-per-uid must be a whole number/,
    );
    expect(() => resolve({ "socket-mode": "0666" }, {}, {}, true)).toThrow(
      /--socket-mode 0666 cannot let anyone else in to the default socket: its directory is this user's alone/,
    );
  });
});
