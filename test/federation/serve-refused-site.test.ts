// A revoked site as an operator meets it, all real processes: `beamhub ca` makes the authority,
// a broker and a site run `beamhub serve --federation`; `ca revoke` and SIGHUP at the broker cut
// the site, which logs one error naming the reason and answers /readyz 503 saying why; a new
// certificate from `ca issue` and SIGHUP at the site bring it back.
import { copyFile, mkdir, mkdtemp, rename, rm } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { federationServeOptions } from "../../cli/serve-federation.js";
import { beamhub, startCli, type RunningCli } from "../cli/helpers.js";

let dir: string;
let ca: string;
const running: RunningCli[] = [];

/** `beamhub ca issue ID` into DIR/hub.pem and DIR/hub.key, with the authority's root.pem. */
async function issue(id: string, place: string): Promise<void> {
  await mkdir(place, { recursive: true });
  const prefix = join(dir, `${id}-${Date.now()}`);
  const issued = await beamhub(["ca", "issue", id, "--ca", ca, "--out", prefix]);
  expect(issued.code, issued.stderr).toBe(0);
  await rename(`${prefix}.pem`, join(place, "hub.pem"));
  await rename(`${prefix}.key`, join(place, "hub.key"));
  await copyFile(join(ca, "root.pem"), join(place, "root.pem"));
}

/** GET `url` (plain HTTP, loopback): its status and body. */
function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const sent = request(url, { timeout: 10_000 }, (response) => {
      let body = "";
      response.on("data", (chunk: Buffer) => (body += chunk.toString()));
      response.once("end", () => resolve({ status: response.statusCode!, body }));
    });
    sent.once("timeout", () => sent.destroy(new Error(`no answer from ${url} within 10 s`)));
    sent.once("error", reject);
    sent.end();
  });
}

async function until(check: () => boolean | Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const count = (text: string, pattern: RegExp): number => text.match(new RegExp(pattern, "g"))?.length ?? 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-refused-site-"));
  ca = join(dir, "ca");
  expect((await beamhub(["ca", "init", "--ca", ca])).code).toBe(0);
}, 60_000);

afterAll(async () => {
  await Promise.allSettled(running.reverse().map((process) => process.stop()));
  await rm(dir, { recursive: true, force: true });
});

describe("serve --federation with a revoked site", () => {
  it("logs the refusal once, says why in /readyz, and recovers on SIGHUP with a new certificate", async () => {
    const brokerDir = join(dir, "broker");
    const siteDir = join(dir, "site");
    await issue("broker", brokerDir);
    await issue("proxy1.broker", siteDir);
    const broker = await startCli(
      [
        "serve",
        "--id",
        "broker",
        "--federation",
        brokerDir,
        "--listen-https",
        "127.0.0.1:0",
        "--socket",
        join(dir, "broker.sock"),
      ],
      /press Ctrl-C/,
    );
    running.push(broker);
    const brokerUrl = broker.stderr().match(/serving on (https:\/\/127\.0\.0\.1:\d+)/)![1]!;
    const site = await startCli(
      [
        "serve",
        "--id",
        "proxy1.broker",
        "--federation",
        siteDir,
        "--broker",
        brokerUrl,
        "--listen-https",
        "off",
        "--socket",
        join(dir, "site.sock"),
        "--metrics",
        "127.0.0.1:0",
      ],
      /press Ctrl-C/,
    );
    running.push(site);
    const readyz = `${site.stderr().match(/metrics: (http:\/\/127\.0\.0\.1:\d+)/)![1]!}/readyz`;
    expect(await get(readyz)).toMatchObject({
      status: 200,
      body: expect.stringContaining("ok federation broker"),
    });

    // The authority revokes the site; the broker reads the new list on SIGHUP and cuts it.
    expect((await beamhub(["ca", "revoke", "proxy1.broker", "--ca", ca])).code).toBe(0);
    await copyFile(join(ca, "crl.pem"), join(brokerDir, "crl.pem"));
    broker.child.kill("SIGHUP");
    const refusal = /error: federation: the broker refuses this site's certificate: it is revoked/;
    await until(() => refusal.test(site.stderr()), "the site's error line");
    const notReady = await get(readyz);
    expect(notReady.status).toBe(503);
    expect(notReady.body).toMatch(
      /fail federation broker: the broker refuses this site's certificate: it is revoked; .*SIGHUP/,
    );
    // Once its next attempt waits, it says when that is.
    await until(
      async () => /; next attempt in \d+ s\n/.test((await get(readyz)).body),
      "the next attempt's time",
    );
    // One line for the change, not one per attempt (the site keeps trying meanwhile).
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(count(site.stderr(), refusal)).toBe(1);

    // Another site hub started with the revoked certificate stops at once, saying why.
    const refusedStart = await beamhub([
      ...["serve", "--id", "proxy1.broker", "--federation", siteDir, "--broker", brokerUrl],
      ...["--listen-https", "off", "--socket", join(dir, "second.sock")],
    ]);
    expect(refusedStart.code).not.toBe(0);
    expect(refusedStart.stderr).toMatch(
      /federation: the broker refuses this site's certificate: it is revoked; install a new certificate .*CERT_REVOKED/,
    );

    // A new certificate and SIGHUP: the site is let in again.
    await issue("proxy1.broker", siteDir);
    site.child.kill("SIGHUP");
    await until(() => /the broker at \S+ accepts this site again/.test(site.stderr()), "the site back");
    await until(async () => (await get(readyz)).status === 200, "/readyz 200 again");
    expect(count(site.stderr(), refusal)).toBe(1);
  }, 90_000);
});

describe("serve --refused-retry", () => {
  it("takes whole milliseconds from 1000 up, and only for a site", async () => {
    const siteDir = join(dir, "flags");
    await issue("proxy9.broker", siteDir);
    const resolve = (flags: Record<string, string>) => () =>
      federationServeOptions(
        (flag) => (flags[flag] === undefined ? undefined : { value: flags[flag], source: `--${flag}` }),
        "proxy9.broker",
        {},
      );
    const site = { federation: siteDir, broker: "https://127.0.0.1:8443" };
    expect(resolve(site)()!.refusedRetryMs).toBe(300_000);
    expect(resolve({ ...site, "refused-retry": "60000" })()!.refusedRetryMs).toBe(60_000);
    for (const bad of ["soon", "999", "1.5", ""])
      expect(resolve({ ...site, "refused-retry": bad })).toThrow(
        /--refused-retry takes a whole number of milliseconds from 1000 up/,
      );
    expect(resolve({ federation: siteDir, "refused-retry": "60000" })).toThrow(
      /--refused-retry needs --broker/,
    );
  });
});
