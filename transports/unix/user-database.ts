/**
 * Names for Unix user and group ids, from `/etc/passwd` and `/etc/group`.
 *
 * Node can only name its own user (`os.userInfo()`); a hub that identifies its peers by kernel
 * credentials needs the others too. The files are read when first needed and again whenever
 * they change (size or mtime), so the lookups made for each new connection cost a `stat` each.
 * Users and groups that only a network directory (LDAP, sssd) knows are not in these files:
 * they stay numeric (`unix:1234`), and access rules can name them by number.
 * @module
 */
import { readFileSync, statSync } from "node:fs";

/** One parsed database file, with what identified the version it was read from. */
interface Table<Entry> {
  readonly version: string;
  readonly entries: Entry[];
}

/** A `/etc/group` entry. */
interface GroupEntry {
  readonly name: string;
  readonly gid: number;
  readonly members: readonly string[];
}

/** A `/etc/passwd` entry (only what identities need). */
interface UserEntry {
  readonly name: string;
  readonly uid: number;
}

const PASSWD = "/etc/passwd";
const GROUP = "/etc/group";

const cache = new Map<string, Table<unknown>>();

/** The file's records (colon-separated lines), parsed by `parse`; empty if it cannot be read. */
function table<Entry>(file: string, parse: (fields: string[]) => Entry | undefined): Entry[] {
  let version: string;
  try {
    const st = statSync(file);
    version = `${st.size}:${st.mtimeMs}:${st.ino}`;
  } catch {
    return [];
  }
  const cached = cache.get(file) as Table<Entry> | undefined;
  if (cached?.version === version) return cached.entries;
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch {
    // unreadable: no names, ids stay numeric
  }
  const entries: Entry[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#") || line.startsWith("+") || line.startsWith("-")) continue;
    const entry = parse(line.split(":"));
    if (entry !== undefined) entries.push(entry);
  }
  cache.set(file, { version, entries });
  return entries;
}

function id(text: string | undefined): number | undefined {
  return text !== undefined && /^\d+$/.test(text) ? Number(text) : undefined;
}

function users(): UserEntry[] {
  return table(PASSWD, ([name, , uidText]) => {
    const uid = id(uidText);
    return name === undefined || name === "" || uid === undefined ? undefined : { name, uid };
  });
}

function groups(): GroupEntry[] {
  return table(GROUP, ([name, , gidText, members]) => {
    const gid = id(gidText);
    if (name === undefined || name === "" || gid === undefined) return undefined;
    return { name, gid, members: (members ?? "").split(",").filter((member) => member !== "") };
  });
}

/** The login name of `uid` (the first entry with it, as getpwuid does), or undefined. */
export function userName(uid: number): string | undefined {
  return users().find((user) => user.uid === uid)?.name;
}

/** The name of group `gid`, or undefined. */
export function groupName(gid: number): string | undefined {
  return groups().find((group) => group.gid === gid)?.name;
}

/**
 * The ids of the groups `user` is a listed member of (what `initgroups` would give it), for
 * when the kernel does not tell a peer's supplementary groups.
 */
export function groupIdsOfMember(user: string): number[] {
  return groups()
    .filter((group) => group.members.includes(user))
    .map((group) => group.gid);
}
