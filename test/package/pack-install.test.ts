/**
 * The package as a user gets it: packed, installed into a fresh project offline, then each
 * documented entry (`beamhub`, `beamhub/codecs`, `beamhub/kv`) imported from plain `.mjs` and
 * type-checked from TypeScript under `moduleResolution` NodeNext and bundler, and the README's
 * codec and kv snippets run against it. Catches what the repo's own tests cannot see: a missing
 * "exports" entry, a folder left out of the build, types that do not resolve outside the repo.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { promisedOutput, readmeSnippets } from "../helpers/readme-snippets.js";
import { installPacked, packPackage, root } from "./packed-package.js";

const run = promisify(execFile);

/** Building the package is the slow step (a full tsc emit); the rest takes seconds. */
const BUILD_MS = 240_000;
const STEP_MS = 60_000;

/** What each entry must give a user (a sample: the README's names, one per concept). */
const ENTRY_NAMES: Record<string, string[]> = {
  beamhub: [
    "Hub",
    "Channel",
    "ByteStream",
    "FileDescriptor",
    "connectUnix",
    "listenHttps",
    "ServiceError",
    "connectTcp",
  ],
  "beamhub/codecs": [
    "cborCodec",
    "jsonCodec",
    "msgpackCodec",
    "protobufCodec",
    "kvCodec",
    "Ref",
    "codecByName",
  ],
  "beamhub/kv": [
    "encodeKv",
    "decodeKv",
    "KvMessage",
    "KvLogWriter",
    "KvLogReader",
    "KvSyncSource",
    "KvReplica",
  ],
};

let dir = "";
let project = "";

beforeAll(
  async () => {
    dir = await mkdtemp(join(tmpdir(), "beamhub-package-"));
    const tarball = await packPackage(dir, BUILD_MS);
    project = join(dir, "project");
    await installPacked(project, tarball, STEP_MS);
  },
  BUILD_MS + 2 * STEP_MS,
);

afterAll(async () => {
  if (dir !== "") await rm(dir, { recursive: true, force: true });
});

/** Runs a file of the fresh project with plain node; resolves to what it printed. */
async function runInProject(file: string): Promise<string> {
  const { stdout } = await run(process.execPath, [file], {
    cwd: project,
    timeout: STEP_MS,
    env: { ...process.env, TMPDIR: project },
  });
  return stdout;
}

/** Type-checks `file` in the fresh project with this repo's tsc; resolves to its diagnostics. */
async function typeCheck(file: string, moduleResolution: "NodeNext" | "Bundler"): Promise<string> {
  const config = join(project, `tsconfig.${moduleResolution.toLowerCase()}.json`);
  const compilerOptions = {
    strict: true,
    noEmit: true,
    target: "ES2022",
    lib: ["ES2023"],
    module: moduleResolution === "NodeNext" ? "NodeNext" : "ESNext",
    moduleResolution,
    // Under NodeNext the declarations the program reaches (the package's and its dependencies')
    // are checked too; once is enough, and it is most of the time taken.
    skipLibCheck: moduleResolution !== "NodeNext",
    types: ["node"],
    typeRoots: [join(root, "node_modules", "@types")],
  };
  await writeFile(config, JSON.stringify({ compilerOptions, files: [file] }));
  try {
    await run(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", config], {
      cwd: project,
      timeout: STEP_MS,
    });
    return "";
  } catch (error) {
    return String((error as { stdout?: string }).stdout ?? error);
  }
}

describe("the packed package, installed offline in a fresh project", () => {
  it("imports every documented entry from plain .mjs", { timeout: STEP_MS }, async () => {
    const lines = Object.entries(ENTRY_NAMES).map(
      ([entry, names]) =>
        `{ const m = await import(${JSON.stringify(entry)}); out[${JSON.stringify(entry)}] = ${JSON.stringify(names)}.filter((n) => m[n] === undefined); }`,
    );
    const file = join(project, "entries.mjs");
    await writeFile(file, `const out = {};\n${lines.join("\n")}\nconsole.log(JSON.stringify(out));\n`);
    const missing = JSON.parse(await runInProject(file)) as Record<string, string[]>;
    expect(missing).toEqual({ beamhub: [], "beamhub/codecs": [], "beamhub/kv": [] });
  });

  it(
    "keeps the internals out of the main entry and behind beamhub/internal",
    { timeout: STEP_MS },
    async () => {
      const file = join(project, "internal.mjs");
      await writeFile(
        file,
        `const main = await import("beamhub"); const internal = await import("beamhub/internal");
console.log(JSON.stringify([main.HTTP2_TUNING === undefined, main.SESSION_PATH === undefined, typeof internal.SESSION_PATH]));\n`,
      );
      expect(JSON.parse(await runInProject(file))).toEqual([true, true, "string"]);
    },
  );

  it("says the version package.json says", { timeout: STEP_MS }, async () => {
    const file = join(project, "version.mjs");
    await writeFile(
      file,
      `import { VERSION } from "beamhub"; import manifest from "beamhub/package.json" with { type: "json" };
console.log(JSON.stringify([VERSION, manifest.version]));\n`,
    );
    const [version, published] = JSON.parse(await runInProject(file)) as [string, string];
    expect(version).toBe(published);
  });

  const usage = `import { Hub, type HubClient, type ConnectionOptions, ServiceError } from "beamhub";
import { cborCodec, type Codec } from "beamhub/codecs";
import { encodeKv, KvMessage, type KvObject } from "beamhub/kv";

const hub: HubClient = new Hub();
const codecs: Codec[] = [cborCodec];
const options: Partial<ConnectionOptions> = { codecs };
const message: KvObject = { hello: "world" };
const bytes: Uint8Array = encodeKv(message);
const decoded: KvMessage = KvMessage.decode(bytes);
const failed: boolean = new ServiceError("s", { name: "E", message: "m", code: "E" }) instanceof Error;
export { hub, options, decoded, failed };
`;

  for (const resolution of ["NodeNext", "Bundler"] as const) {
    it(
      `type-checks a program using every entry (moduleResolution ${resolution})`,
      { timeout: STEP_MS },
      async () => {
        const file = join(project, `usage-${resolution.toLowerCase()}.ts`);
        await writeFile(file, usage);
        expect(await typeCheck(file, resolution)).toBe("");
      },
    );
  }

  const snippets = readmeSnippets().filter((code) => /from "beamhub\/(codecs|kv)"/.test(code));

  it("finds the README's codec and kv snippets", () => {
    expect(snippets.length).toBeGreaterThanOrEqual(2);
  });

  snippets.forEach((code, index) => {
    it(
      `runs README snippet ${index + 1} of the codec/kv ones and it prints what it says`,
      { timeout: STEP_MS },
      async () => {
        // Plain node runs it, as a user's build would: the types are stripped, nothing else.
        const file = join(project, `snippet-${index + 1}.mjs`);
        const { outputText } = ts.transpileModule(code, {
          compilerOptions: {
            module: ts.ModuleKind.ESNext,
            target: ts.ScriptTarget.ES2022,
            verbatimModuleSyntax: false,
          },
        });
        await writeFile(file, outputText);
        const printed = await runInProject(file);
        const promised = promisedOutput(code);
        expect(promised.length).toBeGreaterThan(0);
        for (const text of promised) expect(printed).toContain(text);
      },
    );
  });
});
