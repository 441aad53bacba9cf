// The command line as a newcomer types it, run in-process through the exported `main`: usage
// errors (exit 2) that say what was meant, `help`, the config file's keys, `--hub` words, and
// `call --label` against a real hub on a Unix socket. The processes are in command-line-process.test.ts.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Hub, listenUnix, type UnixListener } from "../../index.js";
import { COMMANDS } from "../../cli/commands/index.js";
import { closest, editDistance } from "../../cli/did-you-mean.js";
import { optionsOf } from "../../cli/usage.js";
import { beamhubInProcess } from "./in-process.js";

let dir: string;
let socket: string;
let hub: Hub;
let listener: UnixListener;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-command-line-"));
  socket = join(dir, "hub.sock");
  hub = new Hub();
  listener = await listenUnix(hub, socket);
  await hub.register("lang", () => "python", { labels: { lang: "py" } });
  await hub.register("lang", () => "go", { labels: { lang: "go", fast: "yes" } });
});

afterAll(async () => {
  await listener?.close();
  await hub?.close();
  await rm(dir, { recursive: true, force: true });
});

/** `beamhub <args>` in this process, with no BEAMHUB_* variables and what it printed. */
function beamhub(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return beamhubInProcess(args);
}

describe("usage errors exit 2 and say what was meant", () => {
  it("answers an unknown flag with the command's closest flag and its usage line", async () => {
    const result = await beamhub(["call", "lang", "--lable", "lang=py", "--socket", socket]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("unknown option --lable for beamhub call (did you mean --label?)");
    expect(result.stderr).toContain("usage: beamhub call <service> [json|-]");
    // Not Node's own sentence, and not the top-level help.
    expect(result.stderr).not.toContain("Unknown option");
    expect(result.stderr).not.toContain("commands:");
    const serve = await beamhub(["serve", "--listen-htps", "0"]);
    expect(serve.stderr).toContain("(did you mean --listen-https?)");
  });

  it("names the command a flag belongs to, and what serve takes instead of a client flag", async () => {
    const keepalive = await beamhub(["ls", "--keepalive", "100"]);
    expect(keepalive.code).toBe(2);
    expect(keepalive.stderr).toContain("--keepalive applies only to beamhub serve");
    const listen = await beamhub(["call", "x", "--listen", "1"]);
    expect(listen.stderr).toContain("--listen applies only to beamhub connect");
    const cert = await beamhub(["serve", "--cert", "c.pem"]);
    expect(cert.code).toBe(2);
    expect(cert.stderr).toContain("--cert is a client option; serve takes --tls-cert FILE");
  });

  it("refuses extra arguments, missing ones and flags without their value", async () => {
    const cases: [args: string[], message: string][] = [
      [
        ["call", "lang", "{}", "extra"],
        'unexpected argument "extra" (beamhub call takes <service> [json|-])',
      ],
      [["ls", "db"], 'unexpected argument "db" (beamhub ls takes no arguments)'],
      [["expose", "pg"], "missing tcp://host:port"],
      [["call"], "missing <service>"],
      [["ls", "--timeout"], "--timeout needs a value: --timeout MS"],
      [["ls", "--json=yes"], '--json takes no value (got "yes")'],
      [["ls", "--hub", "--json"], "--hub needs a value, and --json looks like an option"],
      [["run", "--connect", "db=6432", "psql"], "put the command after --: beamhub run ... -- psql"],
      [["run", "--connect", "db=6432"], "missing -- COMMAND [ARGS...]"],
      [["kv", "encod"], 'unknown kv action "encod" (did you mean encode?)'],
    ];
    for (const [args, message] of cases) {
      const result = await beamhub(args);
      expect({ args, code: result.code, stderr: result.stderr }).toEqual({
        args,
        code: 2,
        stderr: expect.stringContaining(message),
      });
    }
  });

  it("refuses bad names, targets and listen addresses before connecting", async () => {
    const nowhere = ["--socket", join(dir, "nothing.sock")];
    const cases: [args: string[], message: string][] = [
      [["call", "bad name!", ...nowhere], 'invalid service name "bad name!"'],
      [["expose", "x", "127.0.0.1:5432", ...nowhere], "did you mean tcp://127.0.0.1:5432?"],
      [["expose", "x", "udp://h:1", ...nowhere], "must look like tcp://host:port"],
      [
        ["connect", "pg", "--listen", "nope", ...nowhere],
        '--listen: listen address "nope" must look like host:port',
      ],
      [["connect", "pg", "--listen", "70000", ...nowhere], "port must be 0..65535"],
      [["run", "--connect", "db=nope", ...nowhere, "--", "true"], 'listen address "nope"'],
      [["call", "lang", "--label", "lang", ...nowhere], '--label takes key=value, got "lang"'],
      [["call", "lang", "--label", "bad key=1", ...nowhere], '--label: invalid label key "bad key"'],
    ];
    for (const [args, message] of cases) {
      const result = await beamhub(args);
      expect({ args, code: result.code, stderr: result.stderr }).toEqual({
        args,
        code: 2,
        stderr: expect.stringContaining(message),
      });
      // Refused before any connection: the hub's absence is not what it says.
      expect(result.stderr).not.toContain("cannot reach the hub");
    }
  });

  it("answers an unknown command, and options before the command, with the commands", async () => {
    const typo = await beamhub(["lss"]);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('unknown command "lss" (did you mean ls?)');
    const early = await beamhub(["--socket", socket, "ls"]);
    expect(early.code).toBe(2);
    expect(early.stderr).toContain("options come after the command: beamhub ls ... --socket");
    const none = await beamhub([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("usage: beamhub <command>");
  });
});

describe("help", () => {
  it("beamhub help call is beamhub call --help", async () => {
    const [help, flag, short] = await Promise.all([
      beamhub(["help", "call"]),
      beamhub(["call", "--help"]),
      beamhub(["call", "-h"]),
    ]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("usage: beamhub call");
    expect(flag.stdout).toBe(help.stdout);
    expect(short.stdout).toBe(help.stdout);
    const top = await beamhub(["help"]);
    expect(top.code).toBe(0);
    for (const command of COMMANDS) expect(top.stdout).toContain(`  ${command.name}`);
    const unknown = await beamhub(["help", "cal"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "cal" (did you mean call?)');
  });

  it("documents every option a command parses, with its variable when it is a setting", async () => {
    for (const command of COMMANDS) {
      const { stdout } = await beamhub([command.name, "--help"]);
      for (const [name, option] of optionsOf(command)) {
        expect(stdout, `${command.name} --help`).toContain(`--${name}`);
        if (option.setting === true) {
          expect(stdout, `${command.name} --help`).toContain(
            `BEAMHUB_${name.toUpperCase().replace(/-/g, "_")}`,
          );
        }
      }
    }
  });
});

describe("the config file and --hub", () => {
  it("refuses a key that is no setting, naming it and the one it was likely meant to be", async () => {
    const misspelt = join(dir, "misspelt.json");
    await writeFile(misspelt, JSON.stringify({ "listen-htps": "0.0.0.0:8443", tokens: "t.txt" }));
    const serve = await beamhub(["serve", "--config", misspelt]);
    expect(serve.code).toBe(2);
    expect(serve.stderr).toContain(
      `config file ${misspelt}: unknown key "listen-htps" (did you mean "listen-https"?)`,
    );
    // One file serves every command: a client refuses it too, rather than ignore it.
    const client = await beamhub(["ls", "--config", misspelt]);
    expect(client.code).toBe(2);
    expect(client.stderr).toContain('unknown key "listen-htps"');
    const flagOnly = join(dir, "flag-only.json");
    await writeFile(flagOnly, JSON.stringify({ json: true }));
    const json = await beamhub(["ls", "--config", flagOnly]);
    expect(json.stderr).toContain('key "json" is a command-line option only (--json)');
  });

  it("takes the keys of every command's settings and access rules", async () => {
    const shared = join(dir, "shared.json");
    await writeFile(
      shared,
      JSON.stringify({ socket, "listen-https": "off", keepalive: 500, access: [], timeout: 3000 }),
    );
    const result = await beamhub(["ls", "--config", shared, "--json"]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).map((service: { name: string }) => service.name)).toEqual([
      "lang",
      "lang",
    ]);
  });

  it("refuses a bare word for --hub, naming both readings; a path with a / is a socket", async () => {
    const bare = await beamhub(["ls", "--hub", "localhost"]);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain(
      '--hub "localhost" is neither a URL nor a path: for a hub\'s https listener write https://localhost:8443, ' +
        "for a socket file ./localhost",
    );
    const path = await beamhub(["ls", "--hub", socket]);
    expect(path.code).toBe(0);
  });
});

describe("call --label", () => {
  it("lets only instances carrying every label serve the call, as CallOptions.labels does", async () => {
    for (let attempt = 0; attempt < 6; attempt++) {
      const py = await beamhub(["call", "lang", "--label", "lang=py", "--socket", socket]);
      expect(py).toMatchObject({ code: 0, stdout: '"python"\n' });
      const go = await beamhub([
        "call",
        "lang",
        "--label",
        "lang=go",
        "--label",
        "fast=yes",
        "--socket",
        socket,
      ]);
      expect(go).toMatchObject({ code: 0, stdout: '"go"\n' });
    }
    const none = await beamhub(["call", "lang", "--label", "lang=rust", "--socket", socket]);
    expect(none.code).toBe(4);
    const both = await beamhub([
      "call",
      "lang",
      "--label",
      "lang=py",
      "--label",
      "fast=yes",
      "--socket",
      socket,
    ]);
    expect(both.code).toBe(4);
  });
});

describe("did you mean", () => {
  it("counts a swap of neighbouring letters as one edit, and keeps far words unmatched", () => {
    expect(editDistance("lable", "label")).toBe(1);
    expect(editDistance("listen-htps", "listen-https")).toBe(1);
    expect(editDistance("", "abc")).toBe(3);
    expect(closest("jsn", ["prefix", "label", "json"])).toBe("json");
    expect(closest("pre", ["prefix", "label"])).toBe("prefix");
    expect(closest("certificate", ["hub", "socket", "json"])).toBeUndefined();
  });
});
