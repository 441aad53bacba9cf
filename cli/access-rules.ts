import type { AccessRules, Identity } from "../index.js";
import { CliError, EXIT } from "./errors.js";

/** Access rules read from the config file, ready for `hub.authorize`. */
export interface AccessConfig {
  readonly rules: AccessRules;
  /** How many rules the file gave, for the status line. */
  readonly count: number;
}

/** One entry of the `access` list, compiled. */
interface Grant {
  who: RegExp[];
  anonymous: boolean;
  call: Pattern[];
  register: Pattern[];
}

type Pattern = (service: string, identity: Identity | undefined) => boolean;

const KEYS = new Set(["who", "anonymous", "call", "register"]);

/**
 * Compiles the config file's `access` list into the hub's access rules:
 *
 * ```json
 * "access": [
 *   { "who": "alice", "call": ["*"], "register": ["*"] },
 *   { "who": ["bob", "ci-*"], "call": ["public.*", "hub.info"], "register": ["{id}.*"] },
 *   { "anonymous": true, "call": ["hub.info"] }
 * ]
 * ```
 *
 * `who` matches identity ids (`*` is a wildcard; `"*"` alone is every authenticated peer),
 * `anonymous: true` matches peers without one. `call` and `register` are service name patterns
 * (`*` matches any characters, dots included; `{id}` is the peer's identity id). A peer may do
 * what some entry matching it grants, and nothing else. Peers on the Unix socket are not
 * checked: the socket is mode 0600, so they are this user already.
 */
export function parseAccessRules(value: unknown, source: string): AccessConfig {
  if (!Array.isArray(value)) {
    throw new CliError(`${source} must be a list of rules like {"who": "alice", "call": ["*"]}`, EXIT.usage);
  }
  const grants = value.map((entry, index) => compileGrant(entry, `${source}[${index}]`));
  const allows =
    (action: "call" | "register") =>
    (identity: Identity | undefined, service: string): boolean => {
      if (identity?.via === "unix") return true;
      return grants.some(
        (grant) =>
          (identity === undefined ? grant.anonymous : grant.who.some((who) => who.test(identity.id))) &&
          grant[action].some((matches) => matches(service, identity)),
      );
    };
  return { rules: { call: allows("call"), register: allows("register") }, count: grants.length };
}

function compileGrant(entry: unknown, where: string): Grant {
  const fail = (why: string): CliError => new CliError(`${where} ${why}`, EXIT.usage);
  if (entry === null || typeof entry !== "object" || Array.isArray(entry)) {
    throw fail('must be an object like {"who": "alice", "call": ["*"]}');
  }
  const record = entry as Record<string, unknown>;
  const unknown = Object.keys(record).filter((key) => !KEYS.has(key));
  if (unknown.length > 0) {
    throw fail(`has unknown key ${JSON.stringify(unknown[0])} (known: who, anonymous, call, register)`);
  }
  if (record.anonymous !== undefined && typeof record.anonymous !== "boolean") {
    throw fail("anonymous must be true or false");
  }
  const grant: Grant = {
    who: stringList(record.who, `${where}.who`).map((glob) => anchored(globSource(glob))),
    anonymous: record.anonymous === true,
    call: stringList(record.call, `${where}.call`).map(compilePattern),
    register: stringList(record.register, `${where}.register`).map(compilePattern),
  };
  if (grant.who.length === 0 && !grant.anonymous) {
    throw fail('names nobody: give "who" (identity ids) or "anonymous": true');
  }
  if (grant.call.length === 0 && grant.register.length === 0) {
    throw fail('grants nothing: give "call" and/or "register" (service name patterns)');
  }
  return grant;
}

function stringList(value: unknown, where: string): string[] {
  if (value === undefined) return [];
  const list = typeof value === "string" ? [value] : value;
  if (!Array.isArray(list) || list.some((item) => typeof item !== "string" || item === "")) {
    throw new CliError(`${where} must be a non-empty string or a list of them`, EXIT.usage);
  }
  return list as string[];
}

/** A `call`/`register` pattern; one without `{id}` is compiled once, not per call. */
function compilePattern(pattern: string): Pattern {
  const pieces = pattern.split("{id}");
  if (pieces.length === 1) {
    const regExp = anchored(globSource(pattern));
    return (service) => regExp.test(service);
  }
  return (service, identity) =>
    // An anonymous peer has no id to put there: such a pattern never grants it anything.
    identity !== undefined && anchored(pieces.map(globSource).join(escape(identity.id))).test(service);
}

/** `*` matches any characters; everything else matches itself. */
function globSource(glob: string): string {
  return glob.split("*").map(escape).join(".*");
}

function anchored(source: string): RegExp {
  return new RegExp(`^${source}$`, "s");
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
