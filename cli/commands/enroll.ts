import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createHubRequest, DEFAULT_SEALING_KEY_KEEP_MS, PkiError } from "../../index.js";
import type { CommandInput, CommandSpec } from "../command-spec.js";
import { CliError, EXIT } from "../errors.js";
import { rotateSealingKeyFiles } from "../sealing-key-files.js";
import { parseDuration } from "../../internal.js";

/**
 * `beamhub enroll <hub id>`: the site's half of getting a certificate. The key is made here and
 * stays here; the request goes to whoever runs `beamhub ca sign`.
 */
export const enrollCommand: CommandSpec = {
  name: "enroll",
  operands: [{ name: "hub id", optional: true }],
  summary: "make this hub's key and a certificate request for the federation's authority",
  description:
    "Writes DIR/hub.key (mode 0600, never leaves this machine) and DIR/hub.csr. Send hub.csr to the " +
    "authority (beamhub ca sign hub.csr --hub ID --out hub.pem) and put the answer in DIR/hub.pem.\n\n" +
    "With --rotate-seal (no hub id): a new sealing key in DIR/seal.key; the old one moves to " +
    "DIR/seal-retired.json and still opens task bodies sealed to it until --keep has passed. " +
    "A running serve takes the new key on SIGHUP.",
  groups: [
    {
      title: "enroll options",
      inline: true,
      options: {
        dir: { type: "string", value: "DIR", help: "where to write hub.key and hub.csr", defaultText: "." },
        "rotate-seal": {
          type: "boolean",
          help: "rotates the site's sealing key (DIR/seal.key) instead, keeping the old one for --keep",
        },
        keep: {
          type: "string",
          value: "DURATION",
          help: "with --rotate-seal: how long the old sealing key still opens bodies (30d, 12h, ...)",
          defaultText: "30d",
        },
      },
    },
  ],
  run: async (input, io) => {
    const dir = input.string("dir") ?? ".";
    if (input.flag("rotate-seal")) return rotateSeal(input, dir, io.out);
    if (input.string("keep") !== undefined)
      throw new CliError("enroll: --keep goes with --rotate-seal", EXIT.usage);
    const hub = input.operands[0];
    if (hub === undefined) throw new CliError("enroll: needs a hub id, e.g. proxy1.broker", EXIT.usage);
    try {
      const request = await createHubRequest(hub);
      await writeFile(join(dir, "hub.key"), request.key, { mode: 0o600, flag: "wx" });
      await writeFile(join(dir, "hub.csr"), request.csr);
    } catch (error) {
      if (error instanceof PkiError)
        throw new CliError(`enroll: ${error.message}`, EXIT.usage, { cause: error });
      if ((error as NodeJS.ErrnoException).code === "EEXIST")
        throw new CliError(`enroll: ${join(dir, "hub.key")} exists (will not overwrite a key)`, EXIT.failed, {
          cause: error,
        });
      throw error;
    }
    io.out(`${join(dir, "hub.key")} and ${join(dir, "hub.csr")} for ${hub}`);
    return 0;
  },
};

/** `--rotate-seal`: a new DIR/seal.key, the old one kept in DIR/seal-retired.json for `--keep`. */
function rotateSeal(input: CommandInput, dir: string, out: (line: string) => void): number {
  if (input.operands.length > 0)
    throw new CliError("enroll --rotate-seal takes no hub id (it rotates DIR/seal.key)", EXIT.usage);
  let keepMs = DEFAULT_SEALING_KEY_KEEP_MS;
  const keep = input.string("keep");
  if (keep !== undefined) {
    try {
      keepMs = parseDuration(keep, "s", "--keep");
    } catch (error) {
      throw new CliError(`enroll: ${(error as Error).message}`, EXIT.usage, { cause: error });
    }
  }
  const { retired, current } = rotateSealingKeyFiles(dir, keepMs);
  out(
    `sealing key ${current} in ${join(dir, "seal.key")}; ${retired} kept in ${join(dir, "seal-retired.json")} ` +
      `until ${new Date(Date.now() + keepMs).toISOString()}; send SIGHUP to a running serve`,
  );
  return 0;
}
