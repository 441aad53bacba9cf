import { KvLogLockedError, lockFile } from "../kv/file-lock.js";
import { TaskError } from "./errors.js";

/** Another live process keeps tasks in this log: two writers would interleave their records. */
export class TaskLogLockedError extends TaskError {
  constructor(
    readonly file: string,
    readonly pid: number,
    options?: { cause?: unknown },
  ) {
    super(
      "ELOCKED",
      `the task log ${file} is in use by process ${pid}; give this hub its own --tasks-file`,
      500,
      options,
    );
  }
}

/**
 * Takes `<file>.lock` for this process with kv's {@link lockFile} (a stale lock of a dead process
 * is taken over), and says in the task API's terms when a live process holds it. Resolves to the
 * function that releases it.
 */
export async function lockLog(file: string): Promise<() => Promise<void>> {
  try {
    return await lockFile(file);
  } catch (error) {
    if (error instanceof KvLogLockedError) throw new TaskLogLockedError(file, error.pid, { cause: error });
    throw error;
  }
}
