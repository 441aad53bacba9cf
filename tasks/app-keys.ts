import { timingSafeEqual } from "node:crypto";
import { APP_NAME } from "./beam-id.js";
import { InvalidTaskError, TaskUnauthorizedError } from "./errors.js";

/**
 * The applications a hub knows and their keys, configured as Samply.Beam does it: an
 * environment variable `APP_<name>_KEY=<key>` makes the application `<name>.<hub id>`.
 */
export class AppKeys {
  readonly #keys = new Map<string, Buffer>();

  constructor(
    readonly hubId: string,
    keys: Readonly<Record<string, string>> = {},
  ) {
    for (const [name, key] of Object.entries(keys)) this.add(name, key);
  }

  /** Adds the `APP_<name>_KEY` variables of `env`. */
  static fromEnvironment(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
    const keys: Record<string, string> = {};
    for (const [variable, key] of Object.entries(env)) {
      const match = /^APP_(.+)_KEY$/.exec(variable);
      if (match !== null && key !== undefined) keys[match[1]!] = key;
    }
    return keys;
  }

  add(name: string, key: string): void {
    if (!APP_NAME.test(name))
      throw new InvalidTaskError(`application name "${name}" must be letters, digits or -`);
    if (key === "") throw new InvalidTaskError(`the key of application "${name}" is empty`);
    this.#keys.set(`${name}.${this.hubId}`, Buffer.from(key));
  }

  /** The application ids, e.g. `app1.proxy1.broker`. */
  get apps(): string[] {
    return [...this.#keys.keys()];
  }

  /**
   * The application an `Authorization: ApiKey <app id> <key>` header proves. Every failure is
   * the same 401 (Samply's rule: no hint whether the app or the key was wrong).
   */
  authenticate(header: string | undefined): string {
    const [scheme, app, key] = (header ?? "").split(" ");
    const expected = app === undefined ? undefined : this.#keys.get(app);
    if (scheme !== "ApiKey" || expected === undefined || key === undefined)
      throw new TaskUnauthorizedError("");
    const given = Buffer.from(key);
    if (given.length !== expected.length || !timingSafeEqual(given, expected))
      throw new TaskUnauthorizedError("");
    return app!;
  }
}
