/**
 * Holds the house of DESIGN.md: every import in the package's own code points down the layer
 * table below, never up and never sideways, and no module takes part in an import cycle (type-only
 * imports count: a cycle of types is still two concepts that cannot be read apart).
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "..");

/**
 * Bottom up. A module may import from a layer with a lower rank, or from its own folder. Layers of
 * equal rank are siblings and must not import each other (a transport never knows another one).
 */
const LAYERS: ReadonlyArray<readonly [folder: string, rank: number]> = [
  ["base", 0],
  ["kv", 1],
  ["codecs", 2],
  ["model", 3],
  ["fd", 4],
  ["wire", 5],
  ["transports/memory", 6],
  ["transports/unix", 6],
  ["transports/http2", 6],
  ["pubsub", 6],
  ["hub", 7],
  ["gateway", 8],
  ["tasks", 8],
  ["federation", 8],
  ["cluster", 8],
  ["observability", 8],
  ["mles", 8],
  // Tasks kept at a federation's broker: built on both tasks/ and federation/.
  ["federation-tasks", 8.5],
  // Tasks kept in a cluster's JetStream bucket: built on both tasks/ and cluster/.
  ["cluster-tasks", 8.5],
  ["index.ts", 9],
  ["internal.ts", 9],
  ["browser", 10],
  ["cli", 10],
];

/** Folders that are not the package: they may import anything (but still join the cycle check). */
const OUTSIDE = [
  "vitest.config.ts",
  "test",
  "bench",
  "examples",
  "scripts",
  "node_modules",
  "dist",
  "native",
  "browser/shims",
];

function layerOf(file: string): readonly [string, number] | undefined {
  return LAYERS.find(([folder]) => file === folder || file.startsWith(`${folder}/`));
}

function sourceFiles(dir: string): string[] {
  const found: string[] = [];
  for (const name of readdirSync(join(root, dir))) {
    const path = dir === "" ? name : `${dir}/${name}`;
    if (name.startsWith(".") || OUTSIDE.includes(path)) continue;
    if (statSync(join(root, path)).isDirectory()) found.push(...sourceFiles(path));
    else if (path.endsWith(".ts") && !path.endsWith(".d.ts")) found.push(path);
  }
  return found;
}

/** Relative specifiers of `import … from`, `export … from`, `import("…")` and `import "…"`. */
const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["'](\.{1,2}\/[^"']+)["']/g;

function importsOf(file: string): string[] {
  const text = readFileSync(join(root, file), "utf8");
  return [...text.matchAll(IMPORT)].map((match) => {
    const target = relative(root, resolve(dirname(join(root, file)), match[1]!));
    return target.replace(/\.js$/, ".ts");
  });
}

const files = sourceFiles("");
const graph = new Map(files.map((file) => [file, importsOf(file)]));

describe("the house's layering", () => {
  it("finds the package's modules and their imports", () => {
    expect(files.length).toBeGreaterThan(100);
    expect(graph.get("hub/hub.ts")?.length).toBeGreaterThan(3);
    for (const file of files) expect(layerOf(file), `${file} belongs to no layer`).toBeDefined();
  });

  it("has no import that points up or sideways", () => {
    const wrong: string[] = [];
    for (const [file, targets] of graph) {
      const [ownFolder, ownRank] = layerOf(file)!;
      for (const target of targets) {
        const layer = layerOf(target);
        if (layer === undefined) {
          wrong.push(`${file} -> ${target} (outside the package)`);
          continue;
        }
        const [folder, rank] = layer;
        if (folder !== ownFolder && rank >= ownRank) wrong.push(`${file} -> ${target}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("builds the command only from the package's entries, as any client would", () => {
    // DESIGN.md: cli/ uses the public API (`beamhub`, `beamhub/codecs`, `beamhub/kv`,
    // `beamhub/cluster`) and the unstable `beamhub/internal`, never a module of another layer
    // directly.
    const entries = ["index.ts", "internal.ts", "codecs/index.ts", "kv/index.ts", "cluster/index.ts"];
    const wrong: string[] = [];
    for (const [file, targets] of graph) {
      if (!file.startsWith("cli/")) continue;
      for (const target of targets) {
        if (!target.startsWith("cli/") && !entries.includes(target)) wrong.push(`${file} -> ${target}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("has no import cycle", () => {
    // Tarjan's strongly connected components: any component of more than one module is a cycle.
    let index = 0;
    const indices = new Map<string, number>();
    const lowLinks = new Map<string, number>();
    const stack: string[] = [];
    const onStack = new Set<string>();
    const cycles: string[][] = [];
    const visit = (file: string): void => {
      indices.set(file, index);
      lowLinks.set(file, index);
      index++;
      stack.push(file);
      onStack.add(file);
      for (const target of graph.get(file) ?? []) {
        if (!graph.has(target)) continue;
        if (!indices.has(target)) {
          visit(target);
          lowLinks.set(file, Math.min(lowLinks.get(file)!, lowLinks.get(target)!));
        } else if (onStack.has(target)) {
          lowLinks.set(file, Math.min(lowLinks.get(file)!, indices.get(target)!));
        }
      }
      if (lowLinks.get(file) === indices.get(file)) {
        const component: string[] = [];
        let member: string;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          component.push(member);
        } while (member !== file);
        if (component.length > 1) cycles.push(component.sort());
      }
    };
    for (const file of files) if (!indices.has(file)) visit(file);
    expect(cycles).toEqual([]);
  });
});
