/**
 * The NATS subjects and KV keys of a beamhub cluster (PROTOCOL.md, "Cluster"). Names of hubs and
 * services become single subject tokens, so that no name can reach into another's subjects.
 * @module
 */

/** Bytes that stay as they are in a token; every other byte becomes `=XX` (its hex). */
const PLAIN = /^[A-Za-z0-9_-]$/;

/**
 * `name` as one subject token and KV key part: UTF-8 bytes outside `[A-Za-z0-9_-]` become `=XX`,
 * so `.`, `*`, `>` and spaces cannot split or widen a subject. Reversible, so a key names its
 * service exactly.
 */
export function subjectToken(name: string): string {
  let token = "";
  for (const byte of new TextEncoder().encode(name)) {
    const char = String.fromCharCode(byte);
    token += PLAIN.test(char) ? char : `=${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return token;
}

/** The name a token stands for (the inverse of {@link subjectToken}). */
export function fromSubjectToken(token: string): string {
  const bytes: number[] = [];
  for (let index = 0; index < token.length; index++) {
    if (token[index] === "=") {
      bytes.push(Number.parseInt(token.slice(index + 1, index + 3), 16));
      index += 2;
    } else bytes.push(token.charCodeAt(index));
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

/** The subjects and keys one hub of cluster `name` uses. */
export class ClusterSubjects {
  readonly #ns: string;

  constructor(clusterName: string) {
    this.#ns = subjectToken(clusterName);
  }

  /** `hub`'s name as a token. */
  hubToken(hub: string): string {
    return subjectToken(hub);
  }

  /** `service`'s name as a token. */
  serviceToken(service: string): string {
    return subjectToken(service);
  }

  /** Everything addressed to `hub`: link frames, control requests. */
  inbox(hub: string): string {
    return `_beam.${this.#ns}.${subjectToken(hub)}.>`;
  }

  /** Link messages from `from` to `to`. */
  link(to: string, from: string): string {
    return `_beam.${this.#ns}.${subjectToken(to)}.l.${subjectToken(from)}`;
  }

  /** Control requests to `hub` (link opening, liveness probes). */
  control(hub: string): string {
    return `_beam.${this.#ns}.${subjectToken(hub)}.ctl`;
  }

  /** The hub a subject of {@link inbox} came from, and what kind it is. */
  parseInbox(subject: string): { kind: "link"; from: string } | { kind: "control" } | undefined {
    const parts = subject.split(".");
    if (parts.length === 5 && parts[3] === "l") return { kind: "link", from: fromSubjectToken(parts[4]!) };
    if (parts.length === 4 && parts[3] === "ctl") return { kind: "control" };
    return undefined;
  }

  /** Where `hub` says it is alive. */
  heartbeat(hub: string): string {
    return `beam.${this.#ns}.hb.${subjectToken(hub)}`;
  }

  get heartbeats(): string {
    return `beam.${this.#ns}.hb.*`;
  }

  /** Where hubs say which registry key they just wrote (the watch may lag behind). */
  get registryChanges(): string {
    return `beam.${this.#ns}.reg`;
  }

  /** Where a publication on pub/sub `channel` travels between hubs. */
  publication(channel: string): string {
    return `beam.${this.#ns}.pub.${subjectToken(channel)}`;
  }

  /** All publications between hubs. */
  get publications(): string {
    return `beam.${this.#ns}.pub.*`;
  }

  /** The channel a publication subject names. */
  parsePublication(subject: string): string | undefined {
    const parts = subject.split(".");
    return parts.length === 4 && parts[2] === "pub" ? fromSubjectToken(parts[3]!) : undefined;
  }

  /** Where plain NATS clients call `service` (a queue group of its hosting hubs). */
  service(service: string): string {
    return `beam.${this.#ns}.svc.${subjectToken(service)}`;
  }

  /** The KV bucket of the cluster's registry. */
  get bucket(): string {
    return `beam_${this.#ns.replace(/=/g, "_")}`;
  }

  /** The KV key of `hub`'s instances of `service`. */
  serviceKey(service: string, hub: string): string {
    return `svc.${subjectToken(service)}.${subjectToken(hub)}`;
  }

  /** The KV key of `hub`'s record. */
  hubKey(hub: string): string {
    return `hub.${subjectToken(hub)}`;
  }

  /** The hub a hub record's key names. */
  parseHubKey(key: string): string | undefined {
    const parts = key.split(".");
    return parts.length === 2 && parts[0] === "hub" ? fromSubjectToken(parts[1]!) : undefined;
  }

  /** The hub and service a service key names. */
  parseServiceKey(key: string): { service: string; hub: string } | undefined {
    const parts = key.split(".");
    if (parts.length !== 3 || parts[0] !== "svc") return undefined;
    return { service: fromSubjectToken(parts[1]!), hub: fromSubjectToken(parts[2]!) };
  }
}
