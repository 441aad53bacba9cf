/**
 * `beamhub task socket | sockets | accept`, like nc: two real processes pipe stdin and stdout
 * through a socket the hub paired, one of them by its Unix identity instead of a key.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { beamhub, cliArgs, cliEnv, root, startCli, type RunningCli } from "../cli/helpers.js";
import { APP1, APP2 } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "beamhub-task-sockets-cli-"));
let serve: RunningCli | undefined;

afterAll(async () => {
  await serve?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * `beamhub <args>` with `input` on stdin, bounded at 60 s: the sender waits while two more
 * processes start (list, accept), which takes long on a loaded machine.
 */
function beamhubSlow(
  args: string[],
  options: { input: string; env: Record<string, string> },
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [...cliArgs(), ...args],
      { cwd: root, timeout: 60_000, env: cliEnv(options.env) },
      (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    child.stdin!.end(options.input);
  });
}

describe("beamhub task socket, sockets, accept", () => {
  it("pipes stdin and stdout both ways between two processes", { timeout: 90_000 }, async () => {
    const socket = join(dir, "hub.sock");
    const config = join(dir, "config.json");
    // app2 acts by this user's Unix identity: no key on its command line.
    writeFileSync(
      config,
      JSON.stringify({ apps: { app1: "App1Secret", app2: { identities: [`unix:${userInfo().username}`] } } }),
    );
    serve = await startCli(
      [
        "serve",
        "--config",
        config,
        "--socket",
        socket,
        "--listen-https",
        "off",
        "--id",
        "proxy1.broker",
        "--tasks-file",
        "off",
      ],
      /applications app1\.proxy1\.broker, app2\.proxy1\.broker/,
    );
    const asApp1 = { BEAMHUB_APP: APP1, BEAMHUB_APP_KEY: "App1Secret" };
    const asApp2 = { BEAMHUB_APP: APP2 };

    const asking = beamhubSlow(["task", "socket", APP2, "--metadata", '{"file":"x"}', "--socket", socket], {
      input: "ping from app1\n",
      env: asApp1,
    });
    const listed = await beamhub(
      ["task", "sockets", "--wait-count", "1", "--wait-time", "15s", "--socket", socket],
      {
        env: asApp2,
      },
    );
    expect(listed.code).toBe(0);
    const row = new RegExp(
      `^ID\\s+FROM\\s+TTL\\s+METADATA\n(\\S+)\\s+${APP1}\\s+\\d+s\\s+\\{"file":"x"\\}`,
    ).exec(listed.stdout);
    expect(row, listed.stdout).not.toBeNull();
    const task = { id: row![1]! };

    const accepted = await beamhubSlow(["task", "accept", task.id, "--socket", socket], {
      input: "pong from app2\n",
      env: asApp2,
    });
    const asked = await asking;
    expect([accepted.code, accepted.stdout, accepted.stderr]).toEqual([0, "ping from app1\n", ""]);
    expect([asked.code, asked.stdout, asked.stderr]).toEqual([0, "pong from app2\n", ""]);

    const again = await beamhub(["task", "accept", task.id, "--socket", socket], { input: "", env: asApp2 });
    expect([again.code, again.stderr]).toEqual([1, expect.stringContaining("ETASK_NOT_FOUND (404)")]);
  });
});
