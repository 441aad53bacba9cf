import { hasUnixCredentials, type AccessRules, type Identity } from "../index.js";
import { CliError, EXIT } from "./errors.js";

/** Access rules read from the config file, ready for `hub.authorize`. */
export interface AccessConfig {
  readonly rules: AccessRules;
  /** How many rules the file gave, for the status line. */
  readonly count: number;
}

/** Whether a `who` entry names this identity. */
type Who = (identity: Identity) => boolean;

/** One entry of the `access` list, compiled. */
interface Grant {
  who: Who[];
  anonymous: boolean;
  call: Pattern[];
  register: Pattern[];
  publish: Pattern[];
  subscribe: Pattern[];
}

/** What a grant may grant: services to call or register, pub/sub channels to publish or subscribe to. */
const ACTIONS = ["call", "register", "publish", "subscribe"] as const;

type Pattern = (service: string, identity: Identity | undefined) => boolean;

const KEYS = new Set(["who", "anonymous", ...ACTIONS]);

/**
 * Compiles the config file's `access` list into the hub's access rules:
 *
 * ```json
 * "access": [
 *   { "who": "alice", "call": ["*"], "register": ["*"] },
 *   { "who": ["bob", "ci-*"], "call": ["public.*", "hub.info"], "register": ["{id}.*"] },
 *   { "who": ["unix:carol", "unix-group:staff"], "call": ["*"] },
 *   { "anonymous": true, "call": ["hub.info"] },
 *   { "who": "*", "subscribe": ["news.*"], "publish": ["chat.{id}"] }
 * ]
 * ```
 *
 * `who` names peers:
 * - `"unix:NAME"` a Unix socket peer whose kernel credentials are user NAME (`*` wildcards
 *   allowed, `"unix:*"` is every identified Unix peer), or `"unix:1001"` by uid;
 * - `"unix-group:NAME"` a Unix socket peer in group NAME (its effective or a supplementary
 *   group; `*` allowed), or `"unix-group:50"` by gid;
 * - `"*"` alone: every authenticated peer, identified Unix peers included;
 * - anything else matches the identity ids of certificate and token peers (`*` wildcards).
 *   Those never match a Unix peer, and `unix:` entries never match them: a client certificate
 *   whose CN is "unix:root" is not root.
 *
 * `anonymous: true` matches peers without an identity, and Unix peers whose credentials are
 * unknown (an addon built without them). `call` and `register` are service name patterns,
 * `publish` and `subscribe` pub/sub channel name patterns (`*`
 * matches any characters, dots included; `{id}` is the peer's identity id, e.g. `unix:alice`).
 * A peer may do what some entry matching it grants, and nothing else — except
 * {@link isHubOwner hub owners}: Unix peers running as the hub's own user or as root may do
 * everything (they own the hub's socket, its process and its files already; rules could not
 * stop them, only get in their way).
 */
export function parseAccessRules(value: unknown, source: string, hubUid = currentUid()): AccessConfig {
  if (!Array.isArray(value)) {
    throw new CliError(`${source} must be a list of rules like {"who": "alice", "call": ["*"]}`, EXIT.usage);
  }
  const grants = value.map((entry, index) => compileGrant(entry, `${source}[${index}]`));
  const allows =
    (action: (typeof ACTIONS)[number]) =>
    (identity: Identity | undefined, service: string): boolean => {
      if (isHubOwner(identity, hubUid)) return true;
      return grants.some(
        (grant) =>
          (identity === undefined || isAnonymous(identity)
            ? grant.anonymous
            : grant.who.some((who) => who(identity))) &&
          grant[action].some((matches) => matches(service, identity)),
      );
    };
  return {
    rules: {
      call: allows("call"),
      register: allows("register"),
      publish: allows("publish"),
      subscribe: allows("subscribe"),
    },
    count: grants.length,
  };
}

/**
 * The rules without an `access` list: peers of the https listener may do everything (as
 * before; serve warns when that listener is reachable from other machines), and so may the
 * hub's owners on the Unix socket. Other Unix users — who can only connect at all when
 * `--socket-mode` opened the socket to them — may do nothing until an `access` list grants it,
 * and neither may Unix peers with unknown credentials.
 */
export function defaultAccessRules(hubUid = currentUid()): AccessRules {
  const allows = (identity: Identity | undefined): boolean =>
    identity?.via !== "unix" || isHubOwner(identity, hubUid);
  return { call: allows, register: allows, publish: allows, subscribe: allows };
}

/**
 * Whether `identity` is a Unix peer running as the hub's own uid or as root (by kernel
 * credentials; an identity with unknown credentials never is).
 */
export function isHubOwner(identity: Identity | undefined, hubUid = currentUid()): boolean {
  return hasUnixCredentials(identity) && (identity.uid === hubUid || identity.uid === 0);
}

/** No identity, or a Unix peer whose credentials are unknown: nobody in particular. */
function isAnonymous(identity: Identity | undefined): boolean {
  return identity === undefined || (identity.via === "unix" && !hasUnixCredentials(identity));
}

function currentUid(): number | undefined {
  return process.getuid?.();
}

function compileGrant(entry: unknown, where: string): Grant {
  const fail = (why: string): CliError => new CliError(`${where} ${why}`, EXIT.usage);
  if (entry === null || typeof entry !== "object" || Array.isArray(entry)) {
    throw fail('must be an object like {"who": "alice", "call": ["*"]}');
  }
  const record = entry as Record<string, unknown>;
  const unknown = Object.keys(record).filter((key) => !KEYS.has(key));
  if (unknown.length > 0) {
    throw fail(
      `has unknown key ${JSON.stringify(unknown[0])} (known: who, anonymous, call, register, publish, subscribe)`,
    );
  }
  if (record.anonymous !== undefined && typeof record.anonymous !== "boolean") {
    throw fail("anonymous must be true or false");
  }
  const grant: Grant = {
    who: stringList(record.who, `${where}.who`).map((who) => compileWho(who, `${where}.who`)),
    anonymous: record.anonymous === true,
    call: stringList(record.call, `${where}.call`).map(compilePattern),
    register: stringList(record.register, `${where}.register`).map(compilePattern),
    publish: stringList(record.publish, `${where}.publish`).map(compilePattern),
    subscribe: stringList(record.subscribe, `${where}.subscribe`).map(compilePattern),
  };
  if (grant.who.length === 0 && !grant.anonymous) {
    throw fail(
      'names nobody: give "who" (identity ids, "unix:USER", "unix-group:GROUP") or "anonymous": true',
    );
  }
  if (ACTIONS.every((action) => grant[action].length === 0)) {
    throw fail(
      'grants nothing: give "call" and/or "register" (service name patterns), "publish" and/or "subscribe" (channel name patterns)',
    );
  }
  return grant;
}

const UNIX_USER = "unix:";
const UNIX_GROUP = "unix-group:";

/** A `who` entry: see {@link parseAccessRules} for the forms. */
function compileWho(who: string, where: string): Who {
  if (who === "*") return (identity) => identity.via !== "unix" || hasUnixCredentials(identity);
  for (const prefix of [UNIX_USER, UNIX_GROUP]) {
    if (!who.startsWith(prefix)) continue;
    const name = who.slice(prefix.length);
    if (name === "") {
      throw new CliError(
        `${where} "${who}" names no ${prefix === UNIX_USER ? "user" : "group"} (e.g. "${prefix}alice")`,
        EXIT.usage,
      );
    }
    const number = /^\d+$/.test(name) ? Number(name) : undefined;
    const glob = anchored(globSource(name));
    if (prefix === UNIX_USER) {
      return (identity) =>
        hasUnixCredentials(identity) &&
        (number === undefined ? glob.test(identity.user ?? String(identity.uid)) : identity.uid === number);
    }
    return (identity) =>
      hasUnixCredentials(identity) &&
      (number === undefined
        ? identity.groups.some((group) => glob.test(group))
        : identity.gids.includes(number));
  }
  const glob = anchored(globSource(who));
  return (identity) => identity.via !== "unix" && glob.test(identity.id);
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
    identity !== undefined &&
    !isAnonymous(identity) &&
    anchored(pieces.map(globSource).join(escape(identity.id))).test(service);
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
