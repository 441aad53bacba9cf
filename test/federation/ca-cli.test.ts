// The PKI as an operator uses it: `beamhub ca` and `beamhub enroll` as real processes.
import { X509Certificate, createPrivateKey } from "node:crypto";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TrustStore } from "../../federation/pki/trust-store.js";
import { beamhub } from "../cli/helpers.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-ca-cli-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("beamhub ca and beamhub enroll", () => {
  it("creates an authority, enrols a site by request, issues, lists and revokes", async () => {
    const ca = join(dir, "ca");
    const init = await beamhub(["ca", "init", "--ca", ca, "--name", "test federation"]);
    expect(init.stderr).toBe("");
    expect(init.code).toBe(0);
    expect(init.stdout).toContain("root.pem");
    const root = await readFile(join(ca, "root.pem"), "utf8");

    // The site makes its key and request; only the request travels.
    const enroll = await beamhub(["enroll", "proxy1.broker", "--dir", dir]);
    expect(enroll.code).toBe(0);
    expect((await stat(join(dir, "hub.key"))).mode & 0o777).toBe(0o600);
    const again = await beamhub(["enroll", "proxy1.broker", "--dir", dir]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/will not overwrite a key/);

    const refused = await beamhub(["ca", "sign", join(dir, "hub.csr"), "--ca", ca, "--hub", "proxy2.broker"]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/ECERT_INVALID.*expected "proxy2.broker"/);
    const sign = await beamhub([
      "ca",
      "sign",
      join(dir, "hub.csr"),
      "--ca",
      ca,
      "--hub",
      "proxy1.broker",
      "--out",
      join(dir, "hub.pem"),
    ]);
    expect(sign.code).toBe(0);
    const chain = await readFile(join(dir, "hub.pem"), "utf8");
    expect(new TrustStore(root).verify(chain, { hub: "proxy1.broker" }).id).toBe("proxy1.broker");
    expect(
      new X509Certificate(chain).checkPrivateKey(createPrivateKey(await readFile(join(dir, "hub.key")))),
    ).toBe(true);

    const issue = await beamhub([
      "ca",
      "issue",
      "broker",
      "--ca",
      ca,
      "--out",
      join(dir, "broker"),
      "--days",
      "30",
    ]);
    expect(issue.code).toBe(0);
    expect(new TrustStore(root).verify(await readFile(join(dir, "broker.pem"), "utf8")).id).toBe("broker");

    const list = await beamhub(["ca", "ls", "--ca", ca]);
    expect(list.stdout).toMatch(/proxy1\.broker/);
    expect(list.stdout).toMatch(/\bbroker\b/);

    const revoke = await beamhub(["ca", "revoke", "proxy1.broker", "--ca", ca]);
    expect(revoke.code).toBe(0);
    const store = new TrustStore(root);
    await store.addRevocationList(await readFile(join(ca, "crl.pem"), "utf8"), {
      issuer: await readFile(join(ca, "ca.pem"), "utf8"),
    });
    expect(() => store.verify(chain)).toThrow(expect.objectContaining({ code: "ECERT_REVOKED" }));

    const bad = await beamhub(["ca", "issue", "not a hub", "--ca", ca]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/invalid hub id/);
    const missing = await beamhub(["ca", "ls", "--ca", join(dir, "nowhere")]);
    expect(missing.stderr).toMatch(/ECA_FILES/);
  }, 120_000);
});
