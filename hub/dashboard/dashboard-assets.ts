/**
 * The dashboard page's static files (HTML, CSS, JS: no build step), read once on first use. They
 * live in `hub/dashboard/assets/`, next to this module in the source tree; in the built package
 * this module is under `dist/` while the assets ship in place (package.json "files").
 * @module
 */
import { readFileSync } from "node:fs";

/** A static file of the page. */
export interface DashboardAsset {
  readonly body: Buffer;
  readonly contentType: string;
}

const FILES = {
  "index.html": "text/html; charset=utf-8",
  "dashboard.css": "text/css; charset=utf-8",
  "dashboard.js": "text/javascript; charset=utf-8",
} as const;

/** A name the page is made of. */
export type DashboardFile = keyof typeof FILES;

/** Where the assets may be: beside this module (source tree), or the source tree from `dist/`. */
const PLACES = ["./assets/", "../../../hub/dashboard/assets/"];

let loaded: Map<DashboardFile, DashboardAsset> | undefined;

/** The page's files; throws (with the places tried) when the installation lacks them. */
export function dashboardAssets(): ReadonlyMap<DashboardFile, DashboardAsset> {
  if (loaded !== undefined) return loaded;
  const errors: string[] = [];
  for (const place of PLACES) {
    try {
      const assets = new Map<DashboardFile, DashboardAsset>();
      for (const [name, contentType] of Object.entries(FILES) as [DashboardFile, string][]) {
        assets.set(name, { body: readFileSync(new URL(place + name, import.meta.url)), contentType });
      }
      loaded = assets;
      return assets;
    } catch (error) {
      errors.push(`${place}: ${(error as Error).message}`);
    }
  }
  throw new Error(`the dashboard's files are missing from this installation (${errors.join("; ")})`);
}

/** Whether `name` is one of the page's files. */
export function isDashboardFile(name: string): name is DashboardFile {
  return Object.hasOwn(FILES, name);
}
