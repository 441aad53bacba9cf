import { readFile, rm, writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { KvError } from "./errors.js";

/** Another live process holds the lock of a log file: two writers would interleave their records. */
export class KvLogLockedError extends KvError {
  constructor(
    readonly file: string,
    readonly pid: number,
  ) {
    super("ELOCKED", `the log ${file} is in use by process ${pid}; give each hub its own file`);
  }
}

/**
 * Takes `<file>.lock` for this process (it holds the pid). A lock left by a process that no
 * longer runs (one killed with SIGKILL) is taken over; one of a live process is refused with
 * {@link KvLogLockedError}. Resolves to the function that releases it.
 */
export async function lockFile(file: string): Promise<() => Promise<void>> {
  const path = resolve(`${file}.lock`);
  // A lock file with our own pid may be a stale one of a dead process whose pid we reuse; one
  // this process took is not, so it is remembered here.
  if (held.has(path)) throw new KvLogLockedError(file, process.pid);
  held.add(path);
  try {
    return await take(path, file);
  } catch (error) {
    held.delete(path);
    throw error;
  }
}

/** Locks taken by this process, by absolute path. */
const held = new Set<string>();

async function take(path: string, file: string): Promise<() => Promise<void>> {
  for (let attempt = 0; ; attempt++) {
    try {
      await writeFile(path, `${process.pid}\n`, { flag: "wx", mode: 0o600 });
      return async () => {
        await rm(path, { force: true });
        held.delete(path);
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 0) throw error;
      const pid = Number((await readFile(path, "utf8").catch(() => "")).trim());
      if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && isRunning(pid)) {
        throw new KvLogLockedError(file, pid);
      }
      await rm(path, { force: true });
    }
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
