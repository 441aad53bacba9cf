import { readFile, writeFile } from "node:fs/promises";
import { CertificateAuthority, PkiError } from "../../index.js";
import type { CommandInput, CommandSpec } from "../command-spec.js";
import { CliError, EXIT } from "../errors.js";
import { table } from "../output.js";

const ACTIONS = ["init", "issue", "sign", "revoke", "crl", "ls"] as const;
type Action = (typeof ACTIONS)[number];

function usage(message: string): CliError {
  return new CliError(`ca: ${message}`, EXIT.usage);
}

function operand(input: CommandInput, what: string): string {
  const value = input.operands[1];
  if (value === undefined) throw usage(`${input.operands[0]} needs ${what}`);
  return value;
}

function days(input: CommandInput): number | undefined {
  const text = input.string("days");
  if (text === undefined) return undefined;
  if (!/^\d{1,5}$/.test(text) || Number(text) === 0)
    throw usage(`--days takes a whole number of days, got "${text}"`);
  return Number(text);
}

const RUNNERS: Record<
  Action,
  (input: CommandInput, dir: string, out: (text: string) => void) => Promise<number>
> = {
  init: async (input, dir, out) => {
    const authority = await CertificateAuthority.init(dir, { name: input.string("name") ?? "beamhub" });
    await authority.crl();
    out(`created a certificate authority in ${dir}: give every hub ${dir}/root.pem; keep root.key offline`);
    return 0;
  },
  issue: async (input, dir, out) => {
    const hub = operand(input, "a hub id, e.g. proxy1.broker");
    const credentials = await (await CertificateAuthority.open(dir)).issue(hub, { days: days(input) });
    const prefix = input.string("out") ?? hub;
    await writeFile(`${prefix}.key`, credentials.key, { mode: 0o600, flag: "wx" });
    await writeFile(`${prefix}.pem`, credentials.certificate);
    out(`${prefix}.pem and ${prefix}.key (mode 0600) for ${hub}`);
    return 0;
  },
  sign: async (input, dir, out) => {
    const csr = await readFile(operand(input, "the request file (from beamhub enroll)"), "utf8");
    const chain = await (
      await CertificateAuthority.open(dir)
    ).sign(csr, { days: days(input), hub: input.string("hub") });
    const target = input.string("out");
    if (target === undefined) out(chain.trimEnd());
    else {
      await writeFile(target, chain);
      out(`wrote ${target}`);
    }
    return 0;
  },
  revoke: async (input, dir, out) => {
    const serials = await (
      await CertificateAuthority.open(dir)
    ).revoke(operand(input, "a hub id or a serial"));
    out(`revoked ${serials.join(", ")}; ${dir}/crl.pem is the new revocation list`);
    return 0;
  },
  crl: async (input, dir, out) => {
    out((await (await CertificateAuthority.open(dir)).crl({ days: days(input) })).trimEnd());
    return 0;
  },
  ls: async (_input, dir, out) => {
    const issued = (await CertificateAuthority.open(dir)).issued();
    out(
      table(
        ["SERIAL", "HUB", "NOT AFTER", "REVOKED"],
        issued.map((entry) => [entry.serial, entry.hub, entry.notAfter, entry.revokedAt ?? ""]),
      ),
    );
    return 0;
  },
};

/** `beamhub ca <action>`: the federation's certificate authority, kept in a directory. */
export const caCommand: CommandSpec = {
  name: "ca",
  operands: [{ name: ACTIONS.join("|") }, { name: "hub|file|serial", optional: true }],
  summary: "a small certificate authority for the hubs of a federation",
  description:
    "Hub certificates name the hub id (CN=proxy1.broker); every key is Ed25519.\n" +
    "  init                  creates the authority in --ca DIR (a root, and the intermediate that signs)\n" +
    "  issue <hub id>        a key and certificate made here (--out PREFIX writes PREFIX.key, PREFIX.pem)\n" +
    "  sign <csr file>       signs a site's request from beamhub enroll, so its key never travels\n" +
    "  revoke <hub|serial>   revokes and rewrites DIR/crl.pem, which the broker hands to every hub\n" +
    "  crl                   prints the current revocation list\n" +
    "  ls                    the certificates issued",
  groups: [
    {
      title: "ca options",
      inline: true,
      options: {
        ca: { type: "string", value: "DIR", help: "the authority's directory", defaultText: "./beamhub-ca" },
        name: { type: "string", value: "NAME", help: "init: the authority's name in its certificates" },
        days: {
          type: "string",
          value: "N",
          help: "issue, sign: certificate lifetime (default 365); crl: list lifetime (7)",
        },
        out: {
          type: "string",
          value: "PATH",
          help: "issue: file prefix (default the hub id); sign: chain file",
        },
        hub: { type: "string", value: "ID", help: "sign: refuse a request for any other hub" },
      },
    },
  ],
  run: async (input, io) => {
    const action = input.operands[0] as Action;
    if (!ACTIONS.includes(action))
      throw usage(`unknown action ${JSON.stringify(action)}; one of ${ACTIONS.join(", ")}`);
    try {
      return await RUNNERS[action](input, input.string("ca") ?? "beamhub-ca", io.out);
    } catch (error) {
      if (error instanceof PkiError)
        throw new CliError(`ca ${action}: ${error.code}: ${error.message}`, EXIT.failed, { cause: error });
      if ((error as NodeJS.ErrnoException).code === "EEXIST")
        throw new CliError(
          `ca ${action}: ${(error as Error).message} (will not overwrite a key)`,
          EXIT.failed,
          { cause: error },
        );
      throw error;
    }
  },
};
