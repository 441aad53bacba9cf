import { X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { connect, createServer, type TLSSocket } from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CertificateAuthority } from "../../federation/pki/authority.js";
import { createHubRequest } from "../../federation/pki/enrollment.js";
import { TrustStore } from "../../federation/pki/trust-store.js";
import { splitPem } from "../../federation/pki/x509.js";

let dir: string;
let ca: CertificateAuthority;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-ca-"));
  ca = await CertificateAuthority.init(join(dir, "ca"), { name: "test" });
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("a certificate authority in a directory", () => {
  it("keeps its private keys readable by the owner only, and refuses a second init", async () => {
    for (const name of ["root.key", "ca.key"]) {
      expect((await stat(join(dir, "ca", name))).mode & 0o777).toBe(0o600);
    }
    await expect(CertificateAuthority.init(join(dir, "ca"))).rejects.toMatchObject({ code: "ECA_FILES" });
    await expect(CertificateAuthority.open(join(dir, "nowhere"))).rejects.toMatchObject({
      code: "ECA_FILES",
    });
  });

  it("issues a chain whose subject is the hub id and which a trust store of the root verifies", async () => {
    const { key, certificate } = await ca.issue("proxy1.broker", { days: 30 });
    expect(key).toContain("BEGIN PRIVATE KEY");
    const [leaf, intermediate] = splitPem(certificate).map((pem) => new X509Certificate(pem));
    expect(leaf!.subject).toBe("CN=proxy1.broker");
    expect(intermediate!.ca).toBe(true);
    const verified = new TrustStore(ca.rootPem).verify(certificate, { hub: "proxy1.broker" });
    expect(verified.id).toBe("proxy1.broker");
    expect(verified.publicKey.asymmetricKeyType).toBe("ed25519");
    expect(() => new TrustStore(ca.rootPem).verify(certificate, { hub: "proxy2.broker" })).toThrow(
      /expected "proxy2.broker"/,
    );
  });

  it("issues concurrently without losing a ledger entry", async () => {
    const ids = ["c1.broker", "c2.broker", "c3.broker", "c4.broker"];
    await Promise.all(ids.map((id) => ca.issue(id)));
    const reopened = await CertificateAuthority.open(join(dir, "ca"));
    expect(reopened.issued().map((entry) => entry.hub)).toEqual(expect.arrayContaining(ids));
  });

  it("signs a site's request without ever seeing its key, and refuses a request for another hub", async () => {
    const request = await createHubRequest("proxy2.broker");
    const chain = await ca.sign(request.csr, { hub: "proxy2.broker" });
    expect(new TrustStore(ca.rootPem).verify(chain).id).toBe("proxy2.broker");
    expect(
      new X509Certificate(splitPem(chain)[0]!).checkPrivateKey(
        (await import("node:crypto")).createPrivateKey(request.key),
      ),
    ).toBe(true);
    await expect(ca.sign(request.csr, { hub: "proxy3.broker" })).rejects.toMatchObject({
      code: "ECERT_INVALID",
    });
    await expect(
      ca.sign("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----"),
    ).rejects.toMatchObject({
      code: "ECERT_INVALID",
    });
    await expect(createHubRequest("bad id!")).rejects.toMatchObject({ code: "ECERT_INVALID" });
  });

  it("refuses a chain from another authority, an expired certificate and a revoked one", async () => {
    const other = await CertificateAuthority.init(join(dir, "other"));
    const stranger = await other.issue("proxy1.broker");
    const store = new TrustStore(ca.rootPem);
    expect(() => store.verify(stranger.certificate)).toThrow(
      expect.objectContaining({ code: "ECERT_INVALID" }),
    );

    const { certificate } = await ca.issue("proxy4.broker", { days: 1 });
    expect(() => store.verify(certificate, { now: new Date(Date.now() + 2 * 86_400_000) })).toThrow(
      expect.objectContaining({ code: "ECERT_EXPIRED" }),
    );

    const serials = await ca.revoke("proxy4.broker");
    expect(serials).toHaveLength(1);
    const crl = await readFile(join(dir, "ca", "crl.pem"), "utf8");
    expect(await store.addRevocationList(crl)).toBeGreaterThanOrEqual(1);
    expect(() => store.verify(certificate)).toThrow(expect.objectContaining({ code: "ECERT_REVOKED" }));
    // A list signed by someone else is refused, not applied.
    await expect(store.addRevocationList(await other.crl())).rejects.toMatchObject({ code: "ECERT_INVALID" });
    // The ledger survives reopening.
    const reopened = await CertificateAuthority.open(join(dir, "ca"));
    expect(reopened.issued().find((entry) => entry.serial === serials[0])?.revokedAt).toBeDefined();
  });

  it("authenticates both ends of a real TLS connection with issued certificates (mTLS)", async () => {
    const broker = await ca.issue("broker");
    const site = await ca.issue("proxy1.broker");
    const seen: string[] = [];
    const server = createServer(
      {
        key: broker.key,
        cert: broker.certificate,
        ca: ca.rootPem,
        requestCert: true,
        rejectUnauthorized: true,
      },
      (socket: TLSSocket) => {
        seen.push(new TrustStore(ca.rootPem).verify(peerChain(socket)).id);
        socket.end("hello");
      },
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const reply = await new Promise<string>((resolve, reject) => {
        const socket = connect({
          host: "127.0.0.1",
          port,
          key: site.key,
          cert: site.certificate,
          ca: ca.rootPem,
          servername: "broker",
        });
        let text = "";
        socket.on("data", (chunk: Buffer) => (text += chunk.toString()));
        socket.on("end", () => resolve(text));
        socket.on("error", reject);
        setTimeout(() => reject(new Error("no TLS reply within 10 s")), 10_000).unref();
      });
      expect(reply).toBe("hello");
      expect(seen).toEqual(["proxy1.broker"]);
      // A client without a certificate of this authority is turned away by the TLS layer.
      const stranger = await (await CertificateAuthority.init(join(dir, "third"))).issue("proxy1.broker");
      const refused = await new Promise<boolean>((resolve) => {
        const socket = connect({
          host: "127.0.0.1",
          port,
          key: stranger.key,
          cert: stranger.certificate,
          ca: ca.rootPem,
          servername: "broker",
        });
        socket.on("data", () => resolve(false));
        socket.on("error", () => resolve(true));
        socket.on("close", () => resolve(true));
        setTimeout(() => resolve(false), 10_000).unref();
      });
      expect(refused).toBe(true);
      expect(seen).toEqual(["proxy1.broker"]);
    } finally {
      server.close();
    }
  });
});

/** The peer's chain as PEM, leaf first, as the TLS layer received it. */
function peerChain(socket: TLSSocket): string {
  const pems: string[] = [];
  let certificate = socket.getPeerX509Certificate();
  while (certificate !== undefined && !pems.includes(certificate.toString())) {
    pems.push(certificate.toString());
    certificate = certificate.issuerCertificate;
  }
  return pems.join("\n");
}
