// PROTOCOL.md's "Error codes" lists every error code the implementation produces, so that a
// client written from the document can read every error it meets. Generated from the source:
// every quoted `E...` literal in the package's code (where codes are made) must be listed.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { constants } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { sectionOf } from "./protocol-doc.js";

const root = join(import.meta.dirname, "../..");

/** Where beamhub's codes are made: everything a session, a hub or a transport can report. */
const CODE_FOLDERS = [
  "base",
  "codecs",
  "model",
  "fd",
  "wire",
  "transports",
  "hub",
  "gateway",
  "browser",
  "mles",
  "cluster",
  "federation",
  "federation-tasks",
  "cluster-tasks",
];

/**
 * Quoted `E...` literals that are not beamhub's codes: names of OS errors (errno), of resolver
 * errors and of Node's own errors (`ERR_...`) that the code compares against or passes on in
 * `details.errno`. A beamhub code that happens to be an errno name (`EADDRINUSE`, `ETIMEDOUT`)
 * is still listed in the document; this test simply cannot insist on it.
 */
function isForeignName(code: string): boolean {
  return (
    code.startsWith("ERR_") ||
    code in constants.errno ||
    ["EAI_AGAIN", "ENOTFOUND", "ETOOMANYREFS", "EUNKNOWN"].includes(code)
  );
}

function sourceFiles(folders: readonly string[]): string[] {
  return execFileSync("git", ["ls-files", "--", ...folders], { cwd: root, encoding: "utf8" })
    .split("\n")
    .filter((file) => /\.(ts|cc)$/.test(file) && !file.endsWith(".d.ts"));
}

function literalCodes(files: readonly string[]): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(join(root, file), "utf8");
    for (const match of text.matchAll(/["'`](E[A-Z][A-Z0-9_]*)["'`]/g)) {
      const files = found.get(match[1]!) ?? [];
      if (!files.includes(file)) files.push(file);
      found.set(match[1]!, files);
    }
  }
  return found;
}

/** The codes the section lists: every backquoted `E...` token in it. */
const documented = new Set(
  [...sectionOf("Error codes").matchAll(/`(E[A-Z][A-Z0-9_]*)`/g)].map((match) => match[1]!),
);

describe('PROTOCOL.md "Error codes"', () => {
  it("lists every code the source makes", () => {
    const made = literalCodes(sourceFiles(CODE_FOLDERS));
    const missing = [...made]
      .filter(([code]) => !isForeignName(code) && !documented.has(code))
      .map(([code, files]) => `${code} (${files.join(", ")})`);
    expect(made.size).toBeGreaterThan(40);
    expect(missing, 'add these to PROTOCOL.md\'s "Error codes" section').toEqual([]);
  });

  it("lists no code the source no longer has", () => {
    // Anywhere in the package, the CLI included (the section mentions its `ECLI`).
    const all = literalCodes(sourceFiles([...CODE_FOLDERS, "cli", "kv", "index.ts"]));
    expect([...documented].filter((code) => !all.has(code))).toEqual([]);
  });
});
