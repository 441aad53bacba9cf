import { ED25519, generateSigningKeys, privateKeyPem, x509 } from "./x509.js";
import { checkHubId } from "./hub-name.js";

/** A site's new key and the request to send to the authority (both PEM). */
export interface HubRequest {
  /** PKCS#8 PEM of the hub's Ed25519 key: it stays at the site (mode 0600). */
  key: string;
  /** The certificate signing request (`CN=<hub id>`), self-signed to prove the key is held. */
  csr: string;
}

/**
 * The site's half of enrolment (`beamhub enroll`): makes the hub's key where the hub runs and a
 * request the authority signs with `CertificateAuthority.sign`, so that the key never leaves the site.
 */
export async function createHubRequest(hub: string): Promise<HubRequest> {
  checkHubId(hub);
  const keys = await generateSigningKeys();
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${hub}`,
    keys,
    signingAlgorithm: ED25519,
  });
  return { key: privateKeyPem(keys.privateKey), csr: csr.toString("pem") };
}
