import type { Identity } from "../model/identity.js";
import { APP_NAME } from "./beam-id.js";
import { InvalidTaskError, TaskUnauthorizedError } from "./errors.js";

/**
 * Which authenticated beamhub identities may act as which application, without a key: a
 * session whose transport already proved who is on the other end (Unix peer credentials, a TLS
 * client certificate, a bearer token) acts as `<name>.<hub id>` when the configuration lists
 * that identity for `<name>`. Entries name an identity as the hub sees it:
 *
 * - `unix:<login>` or `unix:<uid>`: a local process of that user (kernel credentials);
 * - `mtls:<certificate CN>`: a client certificate signed by the hub's client CA;
 * - `token:<owner>`: a bearer token of that owner (the tokens file);
 * - or any identity's plain `id`.
 *
 * The REST face keeps `Authorization: ApiKey` (Samply's only scheme); this is for the
 * TypeScript API and the CLI, which reach the task service over a hub session.
 */
export class AppIdentities {
  readonly #byApp = new Map<string, ReadonlySet<string>>();

  constructor(
    readonly hubId: string,
    identities: Readonly<Record<string, readonly string[]>> = {},
  ) {
    for (const [name, entries] of Object.entries(identities)) this.add(name, entries);
  }

  add(name: string, entries: readonly string[]): void {
    if (!APP_NAME.test(name))
      throw new InvalidTaskError(`application name "${name}" must be letters, digits or -`);
    if (!Array.isArray(entries) || entries.some((entry) => typeof entry !== "string" || entry === ""))
      throw new InvalidTaskError(`the identities of application "${name}" must be non-empty strings`);
    this.#byApp.set(`${name}.${this.hubId}`, new Set(entries));
  }

  /** The application ids some identity may act as. */
  get apps(): string[] {
    return [...this.#byApp.keys()];
  }

  /**
   * `app`, when `identity` is listed for it; otherwise the same 401 as a wrong key (no hint
   * whether the app or the identity was the problem).
   */
  authenticate(app: string, identity: Identity | undefined): string {
    const allowed = this.#byApp.get(app);
    if (
      allowed === undefined ||
      identity === undefined ||
      !namesOf(identity).some((name) => allowed.has(name))
    )
      throw new TaskUnauthorizedError("");
    return app;
  }
}

/** The names an identity answers to in the configuration. */
function namesOf(identity: Identity): string[] {
  const names = [identity.id, `${identity.via}:${identity.id}`];
  const uid = (identity as { uid?: unknown }).uid;
  if (identity.via === "unix" && typeof uid === "number") names.push(`unix:${uid}`);
  return names;
}
