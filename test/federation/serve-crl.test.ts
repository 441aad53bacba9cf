// `serve --federation DIR` with DIR/crl.pem, in one process (the CLI's start-up code with a real
// https listener): the broker refuses a revoked site's connection as TLS completes, hands its list
// to the sites that join, and on SIGHUP cuts a site that the list read again revokes.
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  federationServeOptions,
  startFederation,
  type ServedFederation,
} from "../../cli/serve-federation.js";
import type { Setting } from "../../cli/settings.js";
import { CertificateAuthority } from "../../federation/pki/authority.js";
import { joinFederation, type FederationSite } from "../../federation/site.js";
import { Hub } from "../../hub/hub.js";
import { connectHttps } from "../../hub/remote/connect-https.js";
import { listenHttps } from "../../hub/remote/listen-https.js";
import { TaskBroker } from "../../tasks/task-broker.js";
import type { HttpsListener } from "../../transports/http2/listen.js";

let dir: string;
let ca: CertificateAuthority;
let hub: Hub;
let listener: HttpsListener;
let tasks: TaskBroker;
let served: ServedFederation;
const lines: string[] = [];

/** A federation directory for `id`: hub.pem, hub.key, root.pem. */
async function credentials(id: string): Promise<{ dir: string; cert: string; key: string }> {
  const place = join(dir, id);
  await mkdir(place);
  const issued = await ca.issue(id);
  await writeFile(join(place, "hub.pem"), issued.certificate);
  await writeFile(join(place, "hub.key"), issued.key, { mode: 0o600 });
  await copyFile(join(dir, "ca", "root.pem"), join(place, "root.pem"));
  return { dir: place, cert: issued.certificate, key: issued.key };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-serve-crl-"));
  ca = await CertificateAuthority.init(join(dir, "ca"));
  const broker = await credentials("broker");
  await credentials("proxy1.broker");
  await credentials("proxy2.broker");
  await ca.revoke("proxy2.broker");
  await copyFile(join(dir, "ca", "crl.pem"), join(broker.dir, "crl.pem"));

  const flags: Record<string, string> = { federation: broker.dir };
  const pick = (flag: string): Setting<unknown> | undefined =>
    flags[flag] === undefined ? undefined : { value: flags[flag], source: `--${flag}` };
  const options = federationServeOptions(pick, "broker", {})!;
  expect(options.crl).toContain("BEGIN CRL");
  hub = new Hub();
  listener = await listenHttps(hub, {
    host: "127.0.0.1",
    port: 0,
    cert: broker.cert,
    key: broker.key,
    ca: ca.rootPem,
    requireAuth: true,
  });
  tasks = await TaskBroker.open({ id: "broker", reachable: () => true });
  served = await startFederation(hub, "broker", options, (line) => lines.push(line), tasks, listener);
}, 30_000);

afterAll(async () => {
  await served?.close();
  await tasks?.close();
  await listener?.close();
  await hub?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("serve --federation DIR with DIR/crl.pem", () => {
  it("refuses the revoked site at the broker, and hands the list to a site that joins", async () => {
    expect(lines.join("\n")).toMatch(/revocation list .*crl\.pem/);
    // The revoked site gets no session at all: its connection is refused (401) after the handshake.
    await expect(
      connectHttps(listener.url, {
        ca: ca.rootPem,
        cert: await readFile(join(dir, "proxy2.broker", "hub.pem"), "utf8"),
        key: await readFile(join(dir, "proxy2.broker", "hub.key"), "utf8"),
        servername: "broker",
        reconnect: false,
        connectTimeout: 10_000,
      }),
    ).rejects.toThrow(/401.*CERT_REVOKED/);

    const site: FederationSite = await joinFederation(new Hub(), {
      broker: listener.url,
      id: "proxy1.broker",
      cert: await readFile(join(dir, "proxy1.broker", "hub.pem"), "utf8"),
      key: await readFile(join(dir, "proxy1.broker", "hub.key"), "utf8"),
      root: ca.rootPem,
    });
    try {
      const serial = ca.issued().find((entry) => entry.hub === "proxy2.broker")!.serial;
      expect(site.keys.trust.isRevoked(serial)).toBe(true);
      expect(await site.refreshRevocations()).toBe(1);
      expect(await served.health!.connected()).toEqual(["proxy1.broker"]);
      // SIGHUP's part: the list read again; it now revokes proxy1 too, whose connection is cut.
      await ca.revoke("proxy1.broker");
      await copyFile(join(dir, "ca", "crl.pem"), join(dir, "broker", "crl.pem"));
      expect(await served.reload()).toMatch(/2 revoked certificates/);
      const end = Date.now() + 10_000;
      while ((await served.health!.connected()).length > 0 && Date.now() < end)
        await new Promise((resolve) => setTimeout(resolve, 50));
      expect(await served.health!.connected()).toEqual([]);
      expect(await served.health!.status("proxy1.broker")).toMatchObject({ online: false });
    } finally {
      await site.close();
    }
  }, 30_000);
});
