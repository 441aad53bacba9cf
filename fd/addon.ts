/**
 * Loads the native fd passing addon (`native/`, built at install time by
 * `scripts/build-native.mjs`). Loading is lazy and cached: importing this layer never fails, and
 * only code that really needs fd passing gets {@link FdUnavailableError} when the addon is absent.
 *
 * Environment knobs (mostly for tests and unusual layouts):
 * - `BEAMHUB_FD_NATIVE_DIR` — the `native/` folder to load from (default: found by walking up
 *   from this module, so it works from the sources and from `dist/`).
 * - `BEAMHUB_NO_ADDON=1` — behave as if the addon had failed to build: the Unix transport then
 *   runs on plain sockets, and only fd passing is lost. `BEAMHUB_FD_DISABLE=1` is the same.
 * @module
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { FdUnavailableError } from "./errors.js";

/** What {@link fdKind} can report for a file descriptor. */
export type FdKind =
  | "file"
  | "directory"
  | "pipe"
  | "char"
  | "block"
  | "tcp"
  | "tcp-listener"
  | "udp"
  | "unix"
  | "unix-listener"
  | "unix-dgram"
  | "unix-seqpacket"
  | "unknown";

/** Callbacks the native channel calls from the event loop. */
export interface NativeChannelCallbacks {
  /** Bytes read, and the fds that came with them (null when none). The callee owns the fds. */
  onData?: (data: Buffer, fds: number[] | null) => void;
  /** The peer half-closed (read returned 0). Reading stops. */
  onEnd?: () => void;
  /** A failure; `code` is an errno name or `EFD_CTRUNC`. */
  onError?: (code: string, message: string, syscall: string) => void;
  /** The socket became writable after a short or refused `send`. Called once per arming. */
  onWritable?: () => void;
  /** Listening channels only: an accepted connection (non-blocking, close-on-exec). */
  onConnection?: (fd: number) => void;
}

/** The native socket. Owns its fd from construction until `close()`. */
export interface NativeChannel {
  /**
   * One `sendmsg`: the chunks (at most `maxIov` are used) with `fds` on the first byte.
   * Returns bytes sent (may be short) or a negative errno (`-EAGAIN` when full). Short or
   * refused sends arm `onWritable`. With `closeFds`, the fds are closed once the kernel took them.
   */
  send(chunks: readonly Uint8Array[], fds: readonly number[] | null, closeFds: boolean): number;
  /** `shutdown(SHUT_WR)`: 0 or a negative errno. */
  shutdown(): number;
  /** Stops polling and closes the fd. Idempotent. */
  close(): void;
  /** Pauses or resumes reading (or accepting). */
  setReading(on: boolean): void;
  /** Whether this channel keeps the event loop alive. */
  setRef(on: boolean): void;
  /** The fd, or -1 once closed. */
  readonly fd: number;
}

/** What the addon's `peerCredentials` returns: the kernel's record of who connected. */
export interface NativePeerCredentials {
  uid: number;
  gid: number;
  /** -1 where the system does not tell (getpeereid). */
  pid: number;
  /** Supplementary group ids (SO_PEERGROUPS), null where the kernel does not tell. */
  groups: number[] | null;
}

/** The addon's exports. Functions return a negative errno on failure. */
export interface FdAddon {
  Channel: new (
    fd: number,
    listening: boolean,
    maxFdsPerRead: number,
    callbacks: NativeChannelCallbacks,
  ) => NativeChannel;
  connect(path: string): number;
  listen(path: string, backlog: number, mode: number): number;
  socketpair(): [number, number] | number;
  dup(fd: number): number;
  close(fd: number): number;
  fdKind(fd: number): FdKind | number;
  accessMode(fd: number): number;
  /**
   * The credentials of a connected Unix socket's peer (SO_PEERCRED). Optional: an addon built
   * from older sources lacks it, and peers then have unknown credentials.
   */
  peerCredentials?(fd: number): NativePeerCredentials | number;
  errnoName(errno: number): string;
  strerror(errno: number): string;
  /** Most fds one `sendmsg` may carry (the kernel's SCM_MAX_FD, 253). */
  readonly maxFdsPerMessage: number;
  /** Most chunks one `sendmsg` takes (IOV_MAX). */
  readonly maxIov: number;
}

/** The file the build script writes when the build fails, next to the build output. */
export const BUILD_FAILURE_FILE = "build-failure.txt";

let cached: { addon: FdAddon } | { error: FdUnavailableError } | undefined;

/** Finds the `native/` folder: from the environment, or the nearest one above this module. */
export function nativeDir(): string | undefined {
  const fromEnv = process.env.BEAMHUB_FD_NATIVE_DIR;
  if (fromEnv) return resolve(fromEnv);
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const candidate = join(dir, "native");
    if (existsSync(join(candidate, "binding.gyp"))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return undefined;
}

/**
 * Where the install step put `name` (native/build/Release/), or why it is not there: the reason
 * it recorded in native/build/`failureFile` when the build failed, else that `what` is not built.
 */
export function locateBuilt(
  name: string,
  failureFile: string,
  what: string,
): { path: string } | { missing: string } {
  const dir = nativeDir();
  if (dir === undefined)
    return { missing: "the native/ folder (binding.gyp) was not found above this module" };
  const path = join(dir, "build", "Release", name);
  if (existsSync(path)) return { path };
  const failure = join(dir, "build", failureFile);
  return {
    missing: existsSync(failure)
      ? readFileSync(failure, "utf8").trim()
      : `${what} is not built (${path} is missing); run "node scripts/build-native.mjs"`,
  };
}

/** The environment switch that turns the addon off, if one is set (read at each call). */
export function addonDisabledBy(): string | undefined {
  for (const name of ["BEAMHUB_NO_ADDON", "BEAMHUB_FD_DISABLE"]) if (process.env[name] === "1") return name;
  return undefined;
}

function load(): FdAddon {
  const switchedOff = addonDisabledBy();
  if (switchedOff !== undefined) throw new FdUnavailableError(`disabled by ${switchedOff}=1`);
  if (process.platform === "win32") {
    throw new FdUnavailableError("Unix domain socket fd passing does not exist on Windows");
  }
  const built = locateBuilt("beamhub_fd.node", BUILD_FAILURE_FILE, "the addon");
  if ("missing" in built) throw new FdUnavailableError(built.missing);
  const file = built.path;
  try {
    return createRequire(import.meta.url)(file) as FdAddon;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new FdUnavailableError(`cannot load ${file}: ${message}`, { cause: error });
  }
}

/**
 * The native addon, loaded once per process.
 * @throws {FdUnavailableError} when it is not built or cannot be loaded; the error's `reason`
 *   carries the build failure when the install step recorded one.
 */
export function loadFdAddon(): FdAddon {
  if (cached === undefined) {
    try {
      cached = { addon: load() };
    } catch (error) {
      cached = {
        error:
          error instanceof FdUnavailableError
            ? error
            : new FdUnavailableError(String(error), { cause: error }),
      };
    }
  }
  if ("error" in cached) throw cached.error;
  return cached.addon;
}

/**
 * Why fd passing does not work in this process (the addon is switched off, not built or does not
 * load), or undefined when it does. Unlike {@link loadFdAddon}, it reads the environment switch
 * at each call. Never throws.
 */
export function fdPassingUnavailable(): FdUnavailableError | undefined {
  const switchedOff = addonDisabledBy();
  if (switchedOff !== undefined) return new FdUnavailableError(`disabled by ${switchedOff}=1`);
  try {
    loadFdAddon();
    return undefined;
  } catch (error) {
    return error as FdUnavailableError;
  }
}

/** Whether fd passing works in this process (the addon loads). Never throws. */
export function fdPassingAvailable(): boolean {
  try {
    loadFdAddon();
    return true;
  } catch {
    return false;
  }
}
