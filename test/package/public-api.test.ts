/**
 * The package's entries as a user meets them: each export of `beamhub`, `beamhub/codecs`,
 * `beamhub/kv` (and `beamhub/internal`) has TSDoc, the main entry lists its names rather than
 * forwarding whole modules, and the plumbing stays out of it.
 */
import { readFileSync } from "node:fs";
import { join, relative } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..", "..");

/** Entry → the file that implements it (what package.json's "exports" points at, before the build). */
const ENTRIES: Record<string, string> = {
  beamhub: "index.ts",
  "beamhub/codecs": "codecs/index.ts",
  "beamhub/kv": "kv/index.ts",
  "beamhub/internal": "internal.ts",
};

/** Names that are plumbing, not API: they may be in `beamhub/internal`, never in `beamhub`. */
const NOT_PUBLIC = [
  "CALL_PATH",
  "SERVICES_PATH",
  "SESSION_PATH",
  "SESSION_CONTENT_TYPE",
  "TIMEOUT_HEADER",
  "WEBSOCKET_PATH",
  "WEBSOCKET_PROTOCOL",
  "HTTP2_TUNING",
  "spliceSockets",
  "spliceSocketStream",
  "resetSocket",
  "HANDOFF_ENV",
  "HANDOFF_REPLY",
  "HANDOFF_REQUEST",
  "Cancellation",
  "ChannelLink",
  "ReplySink",
];

const program = ts.createProgram(
  Object.values(ENTRIES).map((file) => join(root, file)),
  {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: ["node"],
  },
);
const checker = program.getTypeChecker();

interface Export {
  name: string;
  isValue: boolean;
  documented: boolean;
  declaredIn: string;
}

function exportsOf(file: string): Export[] {
  const module = checker.getSymbolAtLocation(program.getSourceFile(join(root, file))!)!;
  return checker.getExportsOfModule(module).map((symbol) => {
    const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
    const declaration = target.declarations?.[0];
    return {
      name: symbol.name,
      // A class exported with `export type` is no value for the user: only its type travels.
      isValue: (target.flags & ts.SymbolFlags.Value) !== 0 && !isTypeOnlyExport(symbol),
      documented: declaration !== undefined && ts.getJSDocCommentsAndTags(declaration).length > 0,
      declaredIn: declaration === undefined ? "?" : relative(root, declaration.getSourceFile().fileName),
    };
  });
}

function isTypeOnlyExport(symbol: ts.Symbol): boolean {
  return (symbol.declarations ?? []).some(
    (declaration) =>
      ts.isExportSpecifier(declaration) && (declaration.isTypeOnly || declaration.parent.parent.isTypeOnly),
  );
}

describe("the public API", () => {
  for (const [entry, file] of Object.entries(ENTRIES)) {
    it(`documents every export of ${entry}`, () => {
      const exports = exportsOf(file);
      expect(exports.length).toBeGreaterThan(10);
      const undocumented = exports
        .filter((item) => !item.documented)
        .map((item) => `${item.name} (${item.declaredIn})`);
      expect(undocumented).toEqual([]);
    });
  }

  it("keeps the plumbing out of beamhub", () => {
    const names = exportsOf("index.ts").map((item) => item.name);
    expect(names.filter((name) => NOT_PUBLIC.includes(name))).toEqual([]);
    const internal = exportsOf("internal.ts").map((item) => item.name);
    expect(NOT_PUBLIC.filter((name) => !internal.includes(name))).toEqual([]);
  });

  it("gives Session only as a type: its constructor needs the hub's unexported host", () => {
    const exports = exportsOf("index.ts");
    expect(exports.find((item) => item.name === "Session")).toMatchObject({ isValue: false });
    expect(exports.find((item) => item.name === "Hub")).toMatchObject({ isValue: true });
    expect(exportsOf("internal.ts").find((item) => item.name === "Session")).toMatchObject({ isValue: true });
  });

  it("lists the main entry's names; only the one module of error classes is forwarded whole", () => {
    const text = readFileSync(join(root, "index.ts"), "utf8");
    expect([...text.matchAll(/export \* from "([^"]+)"/g)].map((match) => match[1])).toEqual([
      "./wire/error-classes.js",
    ]);
  });

  it("names every entry in package.json's exports, with its types", () => {
    const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
      exports: Record<string, { types: string; import: string }>;
    };
    for (const [entry, file] of Object.entries(ENTRIES)) {
      const subpath = entry === "beamhub" ? "." : `./${entry.slice("beamhub/".length)}`;
      const built = `./dist/${file.replace(/\.ts$/, "")}`;
      expect(manifest.exports[subpath]).toEqual({ types: `${built}.d.ts`, import: `${built}.js` });
    }
  });
});
