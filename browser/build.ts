// Bundles the browser client (browser/index.ts) with esbuild into one ESM file,
// dist/browser/beamhub.js, offline. beamhub's core is written for Node; its few Node-isms are
// replaced here, at bundle time, without touching the sources:
//   - kv/bytes.ts (Node's native Buffer string methods) → shims/kv-bytes.ts (TextEncoder/Decoder)
//   - `node:buffer` (codecs/json.ts) and the global `Buffer` (wire/frame.ts) → shims/buffer.ts,
//     for beamhub's own files only (cbor-x brings its own browser build)
//   - every other Node built-in (node:fs, node:net: file descriptors, which browsers never
//     carry) → a generated stub whose exports throw when called (see `stubModule`)
//   - `setTimeout`/`setInterval`/`setImmediate` and their clears → shims/timers.ts (timers with
//     a no-op `unref()`; `setImmediate` as a MessageChannel task), inside the bundle only.
//
// Run: npx tsx browser/build.ts [outfile]
import { readFile } from "node:fs/promises";
import { builtinModules } from "node:module";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { build, type BuildResult, type Plugin } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..");
const shims = join(here, "shims");

/** Where `npx tsx browser/build.ts` writes the bundle. */
export const DEFAULT_OUTFILE = join(root, "dist", "browser", "beamhub.js");

/** Node built-ins with a browser implementation; the others become stubs. */
const SHIMMED: Record<string, string> = { buffer: join(shims, "buffer.ts") };

const NODE_STUB = "beamhub-node-stub";

/**
 * A stand-in for a Node built-in: every export of the real module (listed at build time, so new
 * imports in the core keep bundling) is a function that throws when called. Classes such as
 * `net.Socket` stay usable with `instanceof` (always false), which is all the core does with
 * them on paths that carry no fds.
 */
async function stubModule(specifier: string): Promise<string> {
  const real = (await import(specifier)) as Record<string, unknown>;
  const names = Object.keys(real).filter((name) => name !== "default" && /^[A-Za-z_$][\w$]*$/.test(name));
  return [
    "const unavailable = (name) => function () {",
    `  throw new Error(${JSON.stringify(specifier)} + "." + name + " does not exist in browsers");`,
    "};",
    ...names.map((name) => `export const ${name} = unavailable(${JSON.stringify(name)});`),
    "export default {};",
  ].join("\n");
}

/** Resolves Node built-ins to shims or stubs, swaps kv/bytes.ts, and supplies `Buffer`. */
function nodeShims(stubbed: Set<string>): Plugin {
  return {
    name: "beamhub-node-shims",
    setup(builder) {
      builder.onResolve({ filter: /^[a-z_:/]+$/ }, (args) => {
        const bare = args.path.replace(/^node:/, "");
        if (!args.path.startsWith("node:") && !builtinModules.includes(bare)) return undefined;
        const shim = SHIMMED[bare];
        if (shim !== undefined) return { path: shim };
        stubbed.add(`node:${bare}`);
        return { path: `node:${bare}`, namespace: NODE_STUB };
      });
      builder.onLoad({ filter: /.*/, namespace: NODE_STUB }, async (args) => ({
        contents: await stubModule(args.path),
        loader: "js",
      }));
      // kv/bytes.ts is the core's one module built on Node's native string methods, however it
      // is imported ("../kv/bytes.js" from codecs/, "./bytes.js" from kv/ itself).
      const kvBytes = join(root, "kv", "bytes.js");
      builder.onResolve({ filter: /(^|\/)bytes\.js$/ }, (args) => {
        if (args.importer.startsWith(shims) || join(args.resolveDir, args.path) !== kvBytes) return undefined;
        return { path: join(shims, "kv-bytes.ts") };
      });
      // beamhub's own sources that use the global `Buffer` get the shim imported explicitly.
      builder.onLoad({ filter: /\.ts$/ }, async (args) => {
        if (args.path.includes(`${sep}node_modules${sep}`) || args.path.startsWith(shims)) return undefined;
        const source = await readFile(args.path, "utf8");
        const usesGlobalBuffer =
          /\bBuffer\.\w+\(/.test(source) && !/import\s*\{[^}]*\bBuffer\b[^}]*\}\s*from/.test(source);
        if (!usesGlobalBuffer) return { contents: source, loader: "ts" };
        const shim = JSON.stringify(join(shims, "buffer.ts"));
        return { contents: `import { Buffer } from ${shim};\n${source}`, loader: "ts" };
      });
    },
  };
}

export interface BrowserBuildOptions {
  /** Output file (default dist/browser/beamhub.js). */
  outfile?: string;
  /** Minify (default false: the bundle stays readable for debugging). */
  minify?: boolean;
  /** Write the file (default true); otherwise `outputFiles` holds it. */
  write?: boolean;
}

export interface BrowserBuild {
  result: BuildResult;
  /** Node built-ins the core pulled in that were replaced by throwing stubs. */
  stubbed: string[];
}

/** Bundles the browser client. */
export async function buildBrowserBundle(options: BrowserBuildOptions = {}): Promise<BrowserBuild> {
  const stubbed = new Set<string>();
  const result = await build({
    entryPoints: [join(here, "index.ts")],
    outfile: options.outfile ?? DEFAULT_OUTFILE,
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: options.minify ?? false,
    sourcemap: options.write === false ? false : "linked",
    write: options.write ?? true,
    logLevel: "silent",
    tsconfig: join(root, "tsconfig.json"),
    inject: [join(shims, "timers.ts")],
    plugins: [nodeShims(stubbed)],
    legalComments: "none",
    // Error classes take `name` from the class: keep "ServiceNotFoundError", not a renamed copy.
    keepNames: true,
  });
  return { result, stubbed: [...stubbed].sort() };
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outfile = process.argv[2] === undefined ? DEFAULT_OUTFILE : resolve(process.argv[2]);
  const { result, stubbed } = await buildBrowserBundle({ outfile });
  for (const warning of result.warnings) console.warn(warning.text);
  console.log(
    `wrote ${relative(process.cwd(), outfile)} (Node built-ins stubbed: ${stubbed.join(", ") || "none"})`,
  );
}
