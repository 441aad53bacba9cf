import { constants } from "node:os";

/**
 * How long a repeat of the first stop signal is taken for the same request. Under `npm start`
 * a terminal's Ctrl-C reaches the hub twice, a few ms apart: from the terminal (the whole
 * foreground process group) and from npm, which passes SIGINT and SIGTERM on to its script.
 */
export const REPEAT_GRACE_MS = 1000;

/**
 * Waits for SIGINT or SIGTERM, for a command that then shuts down and exits: resolves with the
 * first. The handlers stay for the rest of the process's life (they do not keep it alive): a
 * repeat within {@link REPEAT_GRACE_MS} is ignored, so neither the shutdown nor the clean exit
 * after it is cut short by npm's echo of Ctrl-C; a repeat after that exits at once with 128 +
 * the signal's number, as an unhandled signal would (a second Ctrl-C forces a stuck shutdown).
 */
export function firstStopSignal(log: (line: string) => void): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let firstAt: number | undefined;
    const handle = (signal: NodeJS.Signals): void => {
      if (firstAt === undefined) {
        firstAt = Date.now();
        resolve(signal);
      } else if (Date.now() - firstAt > REPEAT_GRACE_MS) {
        log(`${signal} again: stopping at once`);
        process.exit(128 + constants.signals[signal]);
      }
    };
    process.on("SIGINT", handle);
    process.on("SIGTERM", handle);
  });
}
