// A worker thread does not inherit the test's TypeScript loader: register tsx, then run the worker.
import { register } from "tsx/esm/api";

register();
await import("./decode-worker.ts");
