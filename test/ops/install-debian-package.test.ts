// scripts/install-debian-package.sh, the one installer behind install-nats/nginx/tinyproxy/
// chromium and postgres.sh: a program that is there is found (also in sbin and by a versioned
// glob) without touching apt; bad usage and a missing program it cannot install end with a
// distinct exit code and one line saying why. Never installs anything here: the cases that would
// are run as a user who may not.
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const SCRIPT = fileURLToPath(new URL("../../scripts/install-debian-package.sh", import.meta.url));

function run(
  args: string[],
  asUser?: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const [file, argv] =
    asUser === undefined
      ? ["bash", [SCRIPT, ...args]]
      : ["runuser", ["-u", asUser, "--", "bash", SCRIPT, ...args]];
  return new Promise((resolve) => {
    execFile(
      file,
      argv,
      { encoding: "utf8", timeout: 30_000, env: { PATH: "/usr/bin:/bin:/usr/sbin:/sbin" } },
      (error, stdout, stderr) =>
        resolve({
          code: error === null ? 0 : typeof error.code === "number" ? error.code : null,
          stdout,
          stderr,
        }),
    );
  });
}

const root = process.getuid?.() === 0;

describe("scripts/install-debian-package.sh", () => {
  it("prints the path of a program that is there and exits 0", async () => {
    expect(await run(["bash", "bash"])).toEqual({ code: 0, stdout: "/usr/bin/bash\n", stderr: "" });
  });

  it("finds an absolute path, and a glob of one, without apt", async () => {
    expect(await run(["/bin/sh", "dash"])).toMatchObject({ code: 0, stdout: "/bin/sh\n" });
    expect(await run(["/usr/bin/ba*h", "bash"])).toMatchObject({ code: 0, stdout: "/usr/bin/bash\n" });
  });

  it("exits 2 with its usage when a package or command is missing", async () => {
    for (const args of [[], ["bash"], ["", "bash"]]) {
      const result = await run(args);
      expect(result.code).toBe(2);
      expect(result.stdout).toBe("");
      expect(result.stderr).toMatch(/^usage: install-debian-package\.sh <command> <package>/);
    }
  });

  it.skipIf(!root)(
    "exits 3 with one line naming the program when it may not install (not root)",
    async () => {
      const result = await run(["no-such-program-beamhub", "no-such-package-beamhub"], "nobody");
      expect(result).toEqual({
        code: 3,
        stdout: "",
        stderr:
          "install-debian-package.sh: no-such-program-beamhub is missing and installing the package " +
          "no-such-package-beamhub needs root (or password-less sudo)\n",
      });
    },
  );
});
