import { readFile, rm, writeFile } from "node:fs/promises";
import { TaskError } from "./errors.js";

/** Another live process keeps tasks in this log: two writers would interleave their records. */
export class TaskLogLockedError extends TaskError {
  constructor(
    readonly file: string,
    readonly pid: number,
  ) {
    super(
      "ELOCKED",
      `the task log ${file} is in use by process ${pid}; give this hub its own --tasks-file`,
      500,
    );
  }
}

/**
 * Takes `<file>.lock` for this process (it holds the pid). A lock left by a process that no
 * longer runs (a hub killed with SIGKILL) is taken over; one of a live process is refused.
 * Resolves to the function that releases it.
 */
export async function lockLog(file: string): Promise<() => Promise<void>> {
  const path = `${file}.lock`;
  for (let attempt = 0; ; attempt++) {
    try {
      await writeFile(path, `${process.pid}\n`, { flag: "wx", mode: 0o600 });
      return () => rm(path, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 0) throw error;
      const pid = Number((await readFile(path, "utf8").catch(() => "")).trim());
      if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && isRunning(pid)) {
        throw new TaskLogLockedError(file, pid);
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
