import { isDottedId } from "../../model/hub-id.js";
import { CertificateError } from "./errors.js";

/** Throws `CertificateError` unless `id` is a hub id: a certificate names nothing else. */
export function checkHubId(id: string, what = "hub id"): string {
  if (typeof id !== "string" || !isDottedId(id))
    throw new CertificateError(`invalid ${what} "${String(id)}"`);
  return id;
}
