/**
 * Names for Unix user and group ids, from `/etc/passwd` and `/etc/group`.
 *
 * Node can only name its own user (`os.userInfo()`); a hub that identifies its peers by kernel
 * credentials needs the others too. The files are read when first needed and again whenever
 * they change (size, mtime or inode; checked at most once a second), so naming the peer of a
 * new connection costs two map lookups.
 * Users and groups that only a network directory (LDAP, sssd) knows are not in these files:
 * they stay numeric (`unix:1234`), and access rules can name them by number.
 * @module
 */
import { readFileSync, statSync } from "node:fs";

/** One parsed database file, indexed, with what identified the version it was read from. */
interface Table<Index> {
  readonly version: string;
  readonly index: Index;
  /** When the file was last checked for changes (Date.now()). */
  checkedAt: number;
}

/**
 * How long a parsed file is used without checking it again: a new user shows by name within a
 * second, and a burst of connections costs one `stat` a second, not two per connection.
 */
const RECHECK_MS = 1000;

const PASSWD = "/etc/passwd";
const GROUP = "/etc/group";

const cache = new Map<string, Table<unknown>>();

/**
 * The index `build` makes of the file's records (colon-separated lines), kept until the file
 * changes; an unreadable file gives the index of no records (ids then stay numeric).
 */
function indexOf<Index>(file: string, build: (records: string[][]) => Index): Index {
  const now = Date.now();
  const cached = cache.get(file) as Table<Index> | undefined;
  if (cached !== undefined && now - cached.checkedAt < RECHECK_MS) return cached.index;
  let version: string;
  try {
    const st = statSync(file);
    version = `${st.size}:${st.mtimeMs}:${st.ino}`;
  } catch {
    version = "missing";
  }
  if (cached?.version === version) {
    cached.checkedAt = now;
    return cached.index;
  }
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch {
    // unreadable: no names
  }
  const records = text
    .split("\n")
    // NIS compat lines (+/-) and comments name nobody.
    .filter((line) => line !== "" && !line.startsWith("#") && !line.startsWith("+") && !line.startsWith("-"))
    .map((line) => line.split(":"));
  const index = build(records);
  cache.set(file, { version, index, checkedAt: now });
  return index;
}

function id(text: string | undefined): number | undefined {
  return text !== undefined && /^\d+$/.test(text) ? Number(text) : undefined;
}

/** uid → login name; the first entry of a uid wins, as with getpwuid. */
function users(): Map<number, string> {
  return indexOf(PASSWD, (records) => {
    const byUid = new Map<number, string>();
    for (const [name, , uidText] of records) {
      const uid = id(uidText);
      if (name !== undefined && name !== "" && uid !== undefined && !byUid.has(uid)) byUid.set(uid, name);
    }
    return byUid;
  });
}

/** gid → group name, and member name → the gids listing it. */
function groups(): { byGid: Map<number, string>; byMember: Map<string, number[]> } {
  return indexOf(GROUP, (records) => {
    const byGid = new Map<number, string>();
    const byMember = new Map<string, number[]>();
    for (const [name, , gidText, members] of records) {
      const gid = id(gidText);
      if (name === undefined || name === "" || gid === undefined) continue;
      if (!byGid.has(gid)) byGid.set(gid, name);
      for (const member of (members ?? "").split(",")) {
        if (member === "") continue;
        const list = byMember.get(member) ?? [];
        list.push(gid);
        byMember.set(member, list);
      }
    }
    return { byGid, byMember };
  });
}

/** The login name of `uid`, or undefined. */
export function userName(uid: number): string | undefined {
  return users().get(uid);
}

/** The name of group `gid`, or undefined. */
export function groupName(gid: number): string | undefined {
  return groups().byGid.get(gid);
}

/**
 * The ids of the groups `user` is a listed member of (what `initgroups` would give it), for
 * when the kernel does not tell a peer's supplementary groups.
 */
export function groupIdsOfMember(user: string): number[] {
  return [...(groups().byMember.get(user) ?? [])];
}
