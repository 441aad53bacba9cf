// Runs examples/chat.md as a reader would: `beamhub serve --mles` from the page, the terminal
// client from the page with lines typed into it, and the page itself in headless Chromium
// (pinning the hub's development certificate). The browser, joining after the terminal spoke,
// must show the history (Alice's join frame is only ever sent as history), then each side must
// see what the other types. The page's port 8443 is swapped for the port the hub really took.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  chromiumUnavailable,
  launchChromium,
  type LaunchedChromium,
  trustCertificateFlag,
} from "../browser/chromium.js";
import { installBeamhubCommand } from "../cli/helpers.js";
import { within } from "../compliance/suite.js";

const root = join(import.meta.dirname, "..", "..");
const page = await readFile(join(root, "examples", "chat.md"), "utf8");
const blocks = [...page.matchAll(/```(sh|text)\n([\s\S]*?)```/g)].map((match) => ({
  kind: match[1]!,
  code: match[2]!.trim(),
}));
const unavailable = await chromiumUnavailable();
if (unavailable !== undefined) console.warn(`skipping the chat page's browser part: ${unavailable}`);

let dir: string;
let env: NodeJS.ProcessEnv;
const processes: ChildProcess[] = [];
let chromium: LaunchedChromium | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-chat-page-"));
  // `beamhub` on the PATH is this checkout's CLI, as `npm install -g` would make it.
  await installBeamhubCommand(dir);
  env = {
    ...process.env,
    PATH: `${dir}:${process.env.PATH ?? ""}`,
    BEAMHUB_SOCKET: join(dir, "hub.sock"),
    BEAMHUB_LISTEN_HTTPS: "127.0.0.1:0",
    BEAMHUB_CERT_DIR: join(dir, "cert"),
    BEAMHUB_TASKS_FILE: "off",
  };
  delete env.MLES_KEY;
});

afterAll(async () => {
  await chromium?.close();
  for (const child of processes) if (child.exitCode === null) child.kill("SIGINT");
  await Promise.all(
    processes.map((child) =>
      child.exitCode === null
        ? within(new Promise((resolve) => child.once("exit", resolve)), 10_000, "exit")
        : null,
    ),
  ).catch(() => processes.forEach((child) => child.kill("SIGKILL")));
  await rm(dir, { recursive: true, force: true });
});

/** Starts a shell command; `output()` is what it printed so far, `waitFor` bounds a wait on it. */
function start(code: string): {
  child: ChildProcess;
  output(): string;
  waitFor(text: string | RegExp): Promise<string>;
} {
  const child = spawn("sh", ["-c", `exec ${code}`], { cwd: root, env, stdio: ["pipe", "pipe", "pipe"] });
  processes.push(child);
  let printed = "";
  const listeners = new Set<() => void>();
  const collect = (chunk: Buffer): void => {
    printed += chunk.toString();
    for (const listener of listeners) listener();
  };
  child.stdout!.on("data", collect);
  child.stderr!.on("data", collect);
  return {
    child,
    output: () => printed,
    waitFor: (text) =>
      within(
        new Promise<string>((resolve, reject) => {
          const check = (): void => {
            const found = typeof text === "string" ? printed.includes(text) : text.exec(printed)?.[0];
            if (found) {
              listeners.delete(check);
              resolve(printed);
            }
          };
          listeners.add(check);
          child.once("exit", (exitCode) => reject(new Error(`${code} exited (${exitCode}): ${printed}`)));
          check();
        }),
        30_000,
        `${String(text)} from ${code}; so far: ${printed}`,
      ),
  };
}

describe("examples/chat.md", () => {
  it("has the steps this test expects", () => {
    expect(blocks.map((block) => block.kind)).toEqual([
      "sh",
      "text",
      "sh",
      "text",
      "text",
      "sh",
      "text",
      "sh",
    ]);
    expect(blocks[0]!.code).toBe("beamhub serve --mles");
    expect(blocks[2]!.code).toContain("examples/chat/chat-terminal.ts");
    expect(blocks[4]!.code).toMatch(/^examples\/chat\/chat\.html\?/);
  });

  it("chats between the terminal and the page, with history on join", { timeout: 120_000 }, async () => {
    const [serve, serveSays, terminal, terminalSays, , sub, subSays, pub] = blocks;
    const hub = start(serve!.code);
    const ready = await hub.waitFor(/mles: Mles clients on wss:\/\/127\.0\.0\.1:\d+\//);
    const port = /mles: Mles clients on wss:\/\/127\.0\.0\.1:(\d+)\//.exec(ready)![1]!;
    expect(ready).toContain(serveSays!.code.replace("8443", port));

    const alice = start(
      terminal!.code.replace("npx tsx", `"${process.execPath}" --import tsx`).replace("8443", port),
    );
    await alice.waitFor(terminalSays!.code);
    alice.child.stdin!.write("hello from the terminal\n");

    // beamhub's own clients on the same channel: `sub` reads the Mles frames (run before the
    // page joins, so that its second message is Alice's line), `pub` speaks to the members.
    const subscriber = start(sub!.code);
    await subscriber.waitFor(subSays!.code.split("\n")[1]!);
    for (const line of subSays!.code.split("\n")) expect(subscriber.output()).toContain(line);

    if (unavailable === undefined) await chatWithThePage(port, alice);

    const publisher = start(pub!.code);
    await publisher.waitFor('"seq"');
    await alice.waitFor("ops: maintenance at noon");
    if (chromium !== undefined) await pageShows(chromium, "ops: maintenance at noon");

    alice.child.stdin!.end(); // Ctrl-D
    await alice.waitFor("left lobby");
    await within(new Promise((resolve) => alice.child.once("exit", resolve)), 10_000, "the terminal to exit");
    expect(alice.child.exitCode).toBe(0);
  });
});

/** The page as bob: history on join, then lines both ways with the terminal (alice). */
async function chatWithThePage(port: string, alice: ReturnType<typeof start>): Promise<void> {
  const pageAddress = blocks[4]!;
  const certificate = await readFile(join(dir, "cert", "cert.pem"), "utf8");
  chromium = await launchChromium([trustCertificateFlag(certificate)]);
  const [file, query] = pageAddress!.code.replace("8443", port).split("?");
  const url = `${pathToFileURL(join(root, file!)).href}?${query}`;
  const { page } = chromium;
  await page.goto(url, { timeout: 20_000 });
  await pageShows(chromium, "* alice joined"); // only ever sent as history
  await pageShows(chromium, "alice: hello from the terminal");
  expect(await page.evaluate<string>('document.getElementById("status").textContent')).toBe("bob in lobby");

  await page.evaluate(
    `(() => { const input = document.getElementById("text"); input.value = "hi alice"; document.getElementById("send").requestSubmit(); })()`,
  );
  await alice.waitFor("bob: hi alice");
  alice.child.stdin!.write("see you\n");
  await pageShows(chromium, "alice: see you");
  // Bob's own line is shown once, by the page itself: Mles sends no echo.
  const lines = await page.evaluate<string[]>(
    '[...document.querySelectorAll("#log li")].map((li) => li.textContent)',
  );
  expect(lines).toEqual([
    "* alice joined",
    "alice: hello from the terminal",
    "bob: hi alice",
    "alice: see you",
  ]);
  expect(alice.output()).not.toContain("* bob joined"); // join frames are history only
}

function pageShows(browser: LaunchedChromium, text: string): Promise<unknown> {
  return browser.page
    .waitForFunction(
      `document.getElementById("log").innerText.includes(${JSON.stringify(text)})`,
      undefined,
      {
        timeout: 30_000,
      },
    )
    .catch((error: unknown) => {
      throw new Error(`the page never showed ${text}; page log:\n${browser.log.join("\n")}`, {
        cause: error,
      });
    });
}
