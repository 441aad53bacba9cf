/**
 * The names the federation uses on the broker, and how a service of another hub is named.
 * A site hub registers `federation.site.<hub id>` at the broker (only the hub whose certificate
 * names that id may), and `<service>@<hub id>` names a service of another site at every site.
 */
export const TUNNEL_SERVICE = "federation.tunnel";
export const SITES_SERVICE = "federation.sites";
export const SITE_PREFIX = "federation.site.";
/** A site's certificate chain and sealing-key record, registered by the site itself. */
export const KEYS_PREFIX = "federation.keys.";
/** The broker's directory of those (answers from its memory while a site is away). */
export const KEYS_SERVICE = "federation.keys";
/** The broker's current certificate revocation list (PEM, or null). */
export const CRL_SERVICE = "federation.crl";
/** The broker's task store, for sites acting for their applications (bodies sealed). */
export const TASKS_SERVICE = "federation.tasks";

/** The broker-side name under which a site offers its keys. */
export function keysService(hub: string): string {
  return `${KEYS_PREFIX}${hub}`;
}

/** The broker-side name a site registers to be reached. */
export function siteService(hub: string): string {
  return `${SITE_PREFIX}${hub}`;
}

/** `echo@proxy2.broker` for `echo` served at `proxy2.broker`. */
export function federatedName(service: string, hub: string): string {
  return `${service}@${hub}`;
}

/** Whether a name is a hub's own, to be offered to other sites (not a mirror, not plumbing). */
export function isExportable(name: string): boolean {
  return !name.includes("@") && !name.startsWith("federation.") && !name.startsWith("hub.");
}
