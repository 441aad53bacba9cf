// Development certificates: made once, kept in a directory (key 0600), shared by processes
// racing to create them, replaced when expired, and pinned by clients from `cert.pem`.
import { X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import {
  connectHttps,
  createDevCertificate,
  Hub,
  listenHttps,
  loadOrCreateDevCertificate,
} from "../../index.js";
import { certificateCovers } from "../../internal.js";

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-certs-"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

it("creates a certificate for localhost once and loads it afterwards", async () => {
  const path = join(dir, "once");
  const first = await loadOrCreateDevCertificate(path);
  const x509 = new X509Certificate(first.cert);
  expect(x509.subjectAltName).toContain("DNS:localhost");
  expect(x509.subjectAltName).toContain("IP Address:127.0.0.1");
  expect((await stat(first.keyPath)).mode & 0o777).toBe(0o600);
  const second = await loadOrCreateDevCertificate(path);
  expect(second.cert).toBe(first.cert);
});

it("tells which hosts a certificate covers, names that only look like addresses included", async () => {
  const { cert } = await createDevCertificate({ hosts: ["localhost", "127.0.0.1", "999.0.0.1"] });
  const x509 = new X509Certificate(cert);
  expect(certificateCovers(x509, "127.0.0.1")).toBe(true);
  expect(certificateCovers(x509, "localhost")).toBe(true);
  expect(certificateCovers(x509, "::1")).toBe(false);
  // Not an IP address (checkIP would throw on it): a DNS name, covered as one.
  expect(certificateCovers(x509, "999.0.0.1")).toBe(true);
  expect(certificateCovers(x509, "999.0.0.2")).toBe(false);
});

it("gives racing callers one and the same certificate", async () => {
  const path = join(dir, "race");
  const all = await Promise.all(Array.from({ length: 5 }, () => loadOrCreateDevCertificate(path)));
  expect(new Set(all.map((pair) => pair.cert)).size).toBe(1);
  expect(await readFile(join(path, "cert.pem"), "utf8")).toBe(all[0]!.cert);
});

it("replaces an expired certificate", async () => {
  const path = join(dir, "expired");
  const day = 24 * 60 * 60 * 1000;
  const old = await createDevCertificate({
    notBefore: new Date(Date.now() - 10 * day),
    notAfter: new Date(Date.now() - day),
  });
  const fresh = await loadOrCreateDevCertificate(path);
  await writeFile(fresh.certPath, old.cert);
  await writeFile(fresh.keyPath, old.key);
  const replaced = await loadOrCreateDevCertificate(path);
  expect(replaced.cert).not.toBe(old.cert);
  expect(Date.parse(new X509Certificate(replaced.cert).validTo)).toBeGreaterThan(Date.now());
});

it("lets a client pin the hub's certificate from certDir", async () => {
  const hub = new Hub();
  await hub.register("echo", (data: unknown) => data);
  const certDir = join(dir, "hub");
  const listener = await listenHttps(hub, { certDir });
  const pinned = await readFile(join(certDir, "cert.pem"));
  const remote = await connectHttps(listener.url.replace("127.0.0.1", "localhost"), { ca: pinned });
  expect(await remote.call("echo", "pinned")).toBe("pinned");
  await remote.close();
  await listener.close();
  await hub.close();
});
