// The type check and the linter run as tests, so a type error or a lint failure shows up in the
// same pass/fail count CI reads, not in a separate step that is easy to overlook.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);

/** Runs a locally installed tool directly (not through npx, whose own warnings would be noise). */
async function npx(args: string[]): Promise<{ code: number; output: string }> {
  const [tool, ...rest] = args as [string, ...string[]];
  try {
    const { stdout, stderr } = await run(`node_modules/.bin/${tool}`, rest, { maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failure = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failure.code ?? 1, output: `${failure.stdout ?? ""}${failure.stderr ?? ""}` };
  }
}

// The type check and eslint start together, each in its own process: the suite runs one test file
// at a time, so the machine's second core would otherwise idle for the ~20 s the type check takes.
const typeCheck = npx(["tsc", "-p", "tsconfig.json", "--noEmit"]);
const lint = npx(["eslint", "--max-warnings=0", "."]);

describe("code quality", () => {
  it("type-checks with strict TypeScript", { timeout: 180_000 }, async () => {
    const { code, output } = await typeCheck;
    expect(output).toBe("");
    expect(code).toBe(0);
  });

  it("passes eslint and prettier", { timeout: 180_000 }, async () => {
    const { code, output } = await lint;
    expect(output).toBe("");
    expect(code).toBe(0);
    const format = await npx(["prettier", "--check", "--log-level=warn", "."]);
    expect(format.output).toBe("");
    expect(format.code).toBe(0);
  });
});
