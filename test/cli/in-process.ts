// The beamhub command run inside the test's process through the exported `main`, for what needs
// no process of its own (usage errors, --help): it proves the same as a spawned command without
// a process start-up each. How a process turns `main`'s result into its exit code, stdout and
// stderr is tested with real processes in command-line-process.test.ts.
import type { CliIo } from "../../cli/cli-io.js";
import { main } from "../../cli/main.js";
import { within } from "../compliance/suite.js";

/**
 * `beamhub <args>` in this process (at most 10 s), with `env` as its whole environment (so no
 * BEAMHUB_* of the developer's) and `input` as its stdin; what it printed and its exit code.
 */
export async function beamhubInProcess(
  args: string[],
  options: { env?: Record<string, string>; input?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const io: CliIo = {
    out: (text) => void (stdout += `${text}\n`),
    err: (text) => void (stderr += `${text}\n`),
    write: (bytes) => void (stdout += Buffer.from(bytes).toString()),
    readStdin: () => Promise.resolve(Buffer.from(options.input ?? "")),
    env: options.env ?? {},
  };
  const code = await within(main(args, io), 10_000, `beamhub ${args.join(" ")}`);
  return { code, stdout, stderr };
}
