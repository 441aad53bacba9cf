import { BeamhubError } from "../../base/error.js";

/** The root of the PKI's errors: certificates, the authority's files, sealed messages. */
export class PkiError extends BeamhubError {}

/** A certificate or chain that does not verify: bad signature, wrong issuer, not a hub id (`ECERT_INVALID`). */
export class CertificateError extends PkiError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("ECERT_INVALID", message, options);
  }
}

/** A certificate outside its validity dates (`ECERT_EXPIRED`). */
export class CertificateExpiredError extends PkiError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("ECERT_EXPIRED", message, options);
  }
}

/** A certificate on its issuer's revocation list (`ECERT_REVOKED`). */
export class CertificateRevokedError extends PkiError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("ECERT_REVOKED", message, options);
  }
}

/** The authority's directory is missing, incomplete, or already holds an authority (`ECA_FILES`). */
export class AuthorityFilesError extends PkiError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("ECA_FILES", message, options);
  }
}
