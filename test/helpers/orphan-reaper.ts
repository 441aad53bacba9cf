// Kills the server processes a test started when the test process itself dies without cleaning
// up (a worker killed by the runner, a bench interrupted with Ctrl-C, a crash): afterAll hooks and
// 'exit' handlers never run then, and a nats-server or proxy left behind holds its ports and temp
// directory for good.
//
// A small bash watchdog holds the read end of a pipe from this process. It is told each pid as it
// is started ("+pid") and as it ends ("-pid", so a pid the kernel reuses later is never touched).
// When the pipe reaches end-of-file without a "done" line — this process is gone, however it
// died — it SIGKILLs the pids it still holds. Only pids we started are ever named.
import { spawn, type ChildProcess } from "node:child_process";

/** The watchdog, a bash script reading "+pid", "-pid" and "done" lines on stdin (exported for its test). */
export const WATCHDOG = `
pids=()
while IFS= read -r line; do
  case "$line" in
    +*) pids+=("\${line#+}") ;;
    -*) kept=(); for p in "\${pids[@]}"; do [[ "$p" != "\${line#-}" ]] && kept+=("$p"); done; pids=("\${kept[@]}") ;;
    done) exit 0 ;;
  esac
done
[[ \${#pids[@]} -gt 0 ]] && kill -9 "\${pids[@]}" 2>/dev/null
exit 0
`;

/** Kills the pids it was given if this process dies before {@link OrphanReaper.close}. */
export class OrphanReaper {
  readonly #watchdog: ChildProcess;
  #closed = false;

  constructor() {
    this.#watchdog = spawn("bash", ["-c", WATCHDOG], { stdio: ["pipe", "ignore", "ignore"] });
    // Not a reason for this process to stay alive, and a watchdog that could not start only
    // loses the safety net: the normal cleanup path still works.
    this.#watchdog.unref();
    this.#watchdog.on("error", () => undefined);
    this.#watchdog.stdin!.on("error", () => undefined);
    (this.#watchdog.stdin as unknown as { unref?: () => void }).unref?.();
  }

  /** Watches `pid` (a process this process started). */
  watch(pid: number): void {
    this.#send(`+${pid}`);
  }

  /** Stops watching `pid`: it has exited, so its number may soon belong to someone else. */
  forget(pid: number): void {
    this.#send(`-${pid}`);
  }

  /** Ends the watchdog without killing anything (everything was cleaned up normally). */
  close(): void {
    if (this.#closed) return;
    this.#send("done");
    this.#closed = true;
    this.#watchdog.stdin!.end();
  }

  #send(line: string): void {
    if (!this.#closed && this.#watchdog.stdin!.writable) this.#watchdog.stdin!.write(`${line}\n`);
  }
}
