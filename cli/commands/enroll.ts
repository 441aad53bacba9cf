import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createHubRequest, PkiError } from "../../index.js";
import type { CommandSpec } from "../command-spec.js";
import { CliError, EXIT } from "../errors.js";

/**
 * `beamhub enroll <hub id>`: the site's half of getting a certificate. The key is made here and
 * stays here; the request goes to whoever runs `beamhub ca sign`.
 */
export const enrollCommand: CommandSpec = {
  name: "enroll",
  operands: [{ name: "hub id" }],
  summary: "make this hub's key and a certificate request for the federation's authority",
  description:
    "Writes DIR/hub.key (mode 0600, never leaves this machine) and DIR/hub.csr. Send hub.csr to the " +
    "authority (beamhub ca sign hub.csr --hub ID --out hub.pem) and put the answer in DIR/hub.pem.",
  groups: [
    {
      title: "enroll options",
      inline: true,
      options: {
        dir: { type: "string", value: "DIR", help: "where to write hub.key and hub.csr", defaultText: "." },
      },
    },
  ],
  run: async (input, io) => {
    const hub = input.operands[0]!;
    const dir = input.string("dir") ?? ".";
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
