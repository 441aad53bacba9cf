import { readFile } from "node:fs/promises";
import { decodeKv, encodeKv, KvDecodeError, readKvLog, type KvObject } from "../../kv/index.js";
import type { CommandSpec } from "../command-spec.js";
import { didYouMean } from "../did-you-mean.js";
import { CliError, EXIT, UsageError } from "../errors.js";
import { toJson } from "../output.js";

const KV_ACTIONS = ["encode", "decode", "inspect"];

/**
 * `beamhub kv encode <json|->`: a JSON object of string lists to kv bytes on stdout.
 * `beamhub kv decode <file|->`: kv bytes to JSON. `beamhub kv inspect <file>`: the records of
 * an append-only kv log, with their offsets, and any torn tail.
 */
export async function kv(
  action: string,
  argument: string | undefined,
  io: { out: (text: string) => void; write: (bytes: Uint8Array) => void; readStdin: () => Promise<Buffer> },
): Promise<number> {
  const input = async (): Promise<Buffer> => {
    if (argument === undefined)
      throw new UsageError(`beamhub kv ${action} needs a file or - for stdin`, "kv");
    return argument === "-" ? io.readStdin() : readFile(argument);
  };
  switch (action) {
    case "encode": {
      const text = argument === "-" || argument === undefined ? (await io.readStdin()).toString() : argument;
      let object: KvObject;
      try {
        object = JSON.parse(text) as KvObject;
      } catch (error) {
        throw new CliError(`not JSON: ${(error as Error).message}`, EXIT.usage, { cause: error });
      }
      io.write(encodeKv(object));
      return 0;
    }
    case "decode": {
      const bytes = await input();
      try {
        io.out(toJson(decodeKv(bytes), true));
      } catch (error) {
        if (error instanceof KvDecodeError) throw new CliError(error.message, EXIT.failed, { cause: error });
        throw error;
      }
      return 0;
    }
    case "inspect": {
      if (argument === undefined || argument === "-")
        throw new UsageError("beamhub kv inspect needs a file", "kv");
      const { records, end, tail } = await readKvLog(argument);
      for (const { offset, message } of records) io.out(`@${offset} ${toJson(message.toObject(), false)}`);
      io.out(`${records.length} records, ${end} bytes`);
      if (tail !== undefined) {
        io.out(`torn tail at byte ${tail.offset} (${tail.length} bytes): ${tail.error.message}`);
        return EXIT.failed;
      }
      return 0;
    }
    default:
      throw new UsageError(
        `unknown kv action ${JSON.stringify(action)}${didYouMean(action, KV_ACTIONS)}: encode, decode or inspect`,
        "kv",
      );
  }
}

/** `beamhub kv`: its arguments and usage. */
export const kvCommand: CommandSpec = {
  name: "kv",
  operands: [{ name: "encode|decode|inspect" }, { name: "json|file|-", optional: true }],
  summary: "Beam's key -> values format",
  description:
    "beamhub kv encode <json|->   a JSON object of string lists -> kv bytes on stdout\n" +
    "beamhub kv decode <file|->   kv bytes -> JSON\n" +
    "beamhub kv inspect <file>    records of an append-only kv log, with offsets and any torn tail",
  groups: [],
  run: (input, io) => kv(input.operands[0]!, input.operands[1], io),
};
