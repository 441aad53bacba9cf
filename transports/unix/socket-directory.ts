/**
 * Checks that a Unix socket's directory cannot be used to squat the socket.
 *
 * Whoever can create or replace the socket file receives the clients' HELLO and every call they
 * make. A directory that another user owns, or that group or others may write without the
 * sticky bit, lets them do exactly that; in a sticky shared directory (like /tmp) they cannot
 * replace our file, but they can create the name before us. So a hub listens, and a client
 * connects, only after {@link checkSocketDirectory} accepted the place.
 * @module
 */
import { lstatSync, mkdirSync, statSync, type Stats } from "node:fs";
import { BeamhubError } from "../../base/error.js";

/** What the checks found wrong; `path`, `owner` and `mode` say where and what. */
export class UnsafeSocketPathError extends BeamhubError {
  constructor(
    message: string,
    /** The directory or socket file refused. */
    readonly path: string,
    /** Its owner's uid, when it exists. */
    readonly owner: number | undefined,
    /** Its permission bits (e.g. 0o1777), when it exists. */
    readonly mode: number | undefined,
    options?: { cause?: unknown },
  ) {
    super("EUNSAFE_SOCKET_PATH", message, options);
  }
}

/**
 * - `"private"`: a directory beamhub keeps for one user (`<tmpdir>/beamhub-<uid>`). It is
 *   created 0700 when missing; it must be a real directory (not a symbolic link), owned by this
 *   user, and writable by nobody else.
 * - `"runtime"`: a directory the system gives the user (`$XDG_RUNTIME_DIR`, normally 0700 and
 *   made by the login manager). It must be owned by this user or root, and if group or others
 *   may write it, it must have the sticky bit.
 */
export type SocketDirectoryPolicy = "private" | "runtime";

const octal = (mode: number): string => `0${(mode & 0o7777).toString(8)}`;

/** The current uid, or undefined where there is none (Windows: no Unix sockets to protect). */
function currentUid(): number | undefined {
  return process.getuid?.();
}

/**
 * Makes sure (creating it when the policy says so) that `dir` is safe to hold this user's hub
 * socket.
 * @throws {UnsafeSocketPathError} naming the directory, the owner and mode found, and what to do.
 */
export function checkSocketDirectory(dir: string, policy: SocketDirectoryPolicy): void {
  const uid = currentUid();
  if (uid === undefined) return;
  try {
    // The private directory is made here, 0700; a missing runtime directory too (with parents),
    // as before: the login manager normally made it already.
    mkdirSync(dir, { mode: 0o700, recursive: policy === "runtime" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") {
      throw new UnsafeSocketPathError(
        `cannot create the socket directory ${dir}: ${(error as Error).message}`,
        dir,
        undefined,
        undefined,
        { cause: error },
      );
    }
  }
  // lstat for the private directory: a symbolic link there was planted, and would lead
  // wherever its maker likes.
  const st = policy === "private" ? lstatSync(dir) : statSync(dir);
  const found = `owner uid ${st.uid}, mode ${octal(st.mode)}`;
  const refuse = (why: string, advice: string): never => {
    throw new UnsafeSocketPathError(
      `refusing the socket directory ${dir} (${found}): ${why}; another user could receive this hub's ` +
        `connections. ${advice}`,
      dir,
      st.uid,
      st.mode & 0o7777,
    );
  };
  const elsewhere = "or give the socket another place with --socket PATH (BEAMHUB_SOCKET)";
  if (!st.isDirectory()) {
    refuse(
      st.isSymbolicLink() ? "it is a symbolic link" : "it is not a directory",
      `Remove it (ask root if it is not yours), ${elsewhere}.`,
    );
  }
  if (policy === "private") {
    if (st.uid !== uid) {
      refuse(
        `it belongs to uid ${st.uid}, not to this user (uid ${uid})`,
        `Ask root to remove it, set XDG_RUNTIME_DIR to a private directory, ${elsewhere}.`,
      );
    }
    if ((st.mode & 0o022) !== 0) {
      refuse("group or others may write it", `Run chmod 700 ${dir}, ${elsewhere}.`);
    }
    return;
  }
  if (st.uid !== uid && st.uid !== 0) {
    refuse(
      `XDG_RUNTIME_DIR belongs to uid ${st.uid}, not to this user (uid ${uid}) or root ` +
        "(after su or sudo it may still name the other user's directory)",
      `Unset XDG_RUNTIME_DIR or point it at this user's own runtime directory, ${elsewhere}.`,
    );
  }
  if ((st.mode & 0o022) !== 0 && (st.mode & 0o1000) === 0) {
    refuse(
      `XDG_RUNTIME_DIR may be written by ${(st.mode & 0o002) !== 0 ? "others" : "its group"} and has no sticky bit`,
      `Run chmod 700 ${dir} (a runtime directory is normally 0700), ${elsewhere}.`,
    );
  }
}

/**
 * Makes sure that the socket file at `path`, if there is one, is a socket of this user's (or
 * root's): in a shared sticky directory another user may have created it first, and a client
 * would then talk to their server.
 * @throws {UnsafeSocketPathError} naming the file, its owner and mode.
 */
export function checkSocketFile(path: string): void {
  const uid = currentUid();
  if (uid === undefined) return;
  let st: Stats;
  try {
    st = lstatSync(path);
  } catch {
    return; // no file yet: the hub creates it (and a client will find nothing to connect to)
  }
  if (st.uid !== uid && st.uid !== 0) {
    throw new UnsafeSocketPathError(
      `refusing the socket ${path} (owner uid ${st.uid}, mode ${octal(st.mode)}): it belongs to uid ${st.uid}, ` +
        `not to this user (uid ${uid}); that user would receive this hub's connections. Remove it (ask root), ` +
        "or use another socket path with --socket PATH (BEAMHUB_SOCKET).",
      path,
      st.uid,
      st.mode & 0o7777,
    );
  }
}
