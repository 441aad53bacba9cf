import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import type { Authenticate } from "../index.js";
import { CliError, EXIT } from "./errors.js";
import type { Setting } from "./settings.js";

/** The identity a token stands for. */
interface TokenIdentity {
  readonly id: string;
  readonly attributes?: Readonly<Record<string, unknown>>;
}

/** Bearer tokens loaded from `--tokens`, ready for `listenHttps({ authenticate })`. */
export interface TokenTable {
  readonly file: string;
  readonly count: number;
  readonly authenticate: Authenticate;
  /** Problems worth a warning (the file is readable by others). */
  readonly warnings: string[];
  /** Reads the file again (for SIGHUP); throws like {@link loadTokens}, leaving this table as it is. */
  reload(): TokenTable;
}

/**
 * Loads a tokens file. Either JSON, `{"<token>": "alice", "<token>": {"id": "bob",
 * "attributes": {...}}}`, or text with one `TOKEN NAME` pair a line (blank lines and `#`
 * comments skipped). Errors name the file and line but never echo a token. Tokens are kept only
 * as SHA-256 digests: a lookup then takes the same time however much of a guess is right, and
 * the tokens are not in the process's memory for a heap dump to show.
 */
export function loadTokens(setting: Setting<string>): TokenTable {
  const file = setting.value;
  const fail = (why: string): CliError => new CliError(`${setting.source} file ${file}: ${why}`, EXIT.usage);
  let text: string;
  let mode: number;
  try {
    text = readFileSync(file, "utf8");
    mode = statSync(file).mode;
  } catch (error) {
    throw new CliError(
      `cannot read ${setting.source} file ${file}: ${(error as Error).message}`,
      EXIT.usage,
      {
        cause: error,
      },
    );
  }
  const entries = text.trimStart().startsWith("{") ? jsonEntries(text, fail) : lineEntries(text, fail);
  const table = new Map<string, TokenIdentity>();
  for (const { token, identity, where } of entries) {
    if (token === "" || /\s/.test(token)) throw fail(`${where}: a token must be non-empty without spaces`);
    if (identity.id === "") throw fail(`${where}: the identity name is empty`);
    const digest = digestOf(token);
    if (table.has(digest)) throw fail(`${where}: this token is listed twice`);
    table.set(digest, identity);
  }
  if (table.size === 0) throw fail("holds no tokens");
  const warnings =
    (mode & 0o077) !== 0
      ? [
          `${setting.source} file ${file} is readable by other users (mode ${(mode & 0o777).toString(8)}): chmod 600 it`,
        ]
      : [];
  return {
    file,
    count: table.size,
    authenticate: (token) => table.get(digestOf(token)),
    warnings,
    reload: () => loadTokens(setting),
  };
}

function digestOf(token: string): string {
  return createHash("sha256").update(token).digest("base64");
}

type Entry = { token: string; identity: TokenIdentity; where: string };

function lineEntries(text: string, fail: (why: string) => CliError): Entry[] {
  const entries: Entry[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const fields = line.split(/\s+/);
    const where = `line ${index + 1}`;
    if (fields.length !== 2) {
      throw fail(`${where}: expected "TOKEN NAME" (two fields), found ${fields.length}`);
    }
    entries.push({ token: fields[0]!, identity: { id: fields[1]! }, where });
  });
  return entries;
}

function jsonEntries(text: string, fail: (why: string) => CliError): Entry[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    // JSON.parse's message quotes the text around the error, which may be a token: keep only where.
    const position = /position \d+/.exec((error as Error).message)?.[0];
    throw fail(position === undefined ? "not valid JSON" : `not valid JSON (at ${position})`);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw fail('JSON must be an object {"<token>": "<identity>", ...}');
  }
  return Object.entries(parsed).map(([token, value], index) => {
    const where = `entry ${index + 1}`;
    if (typeof value === "string") return { token, identity: { id: value }, where };
    if (value !== null && typeof value === "object" && typeof (value as { id?: unknown }).id === "string") {
      const { id, attributes } = value as { id: string; attributes?: unknown };
      if (attributes !== undefined && (attributes === null || typeof attributes !== "object")) {
        throw fail(`${where}: "attributes" must be an object`);
      }
      const identity =
        attributes === undefined ? { id } : { id, attributes: attributes as Record<string, unknown> };
      return { token, identity, where };
    }
    throw fail(`${where}: the value must be an identity name or {"id": "...", "attributes": {...}}`);
  });
}
