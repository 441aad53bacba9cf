// serve's logger: pino JSON lines or one human line per event, levels, and secrets redacted
// before anything is written.
import { describe, expect, it } from "vitest";
import { createLogger, lineLogger, prettyLine } from "../../cli/logger.js";

function capture(format: "json" | "pretty", level: "info" | "warn" = "info") {
  const lines: string[] = [];
  return { lines, logger: createLogger({ level, format }, (line) => lines.push(line)) };
}

describe("serve's logger", () => {
  it("writes JSON lines with time, level, message and the event's fields", () => {
    const { lines, logger } = capture("json");
    logger.info({ event: "session.open", session: "s2", transport: "unix" }, "session s2 opened");
    const record = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(record).toMatchObject({
      level: "info",
      msg: "session s2 opened",
      event: "session.open",
      pid: process.pid,
    });
    expect(new Date(record.time as string).getTime()).toBeGreaterThan(0);
  });

  it("writes status lines as they always read, warnings prefixed, fields as key=value", () => {
    const { lines, logger } = capture("pretty");
    const log = lineLogger(logger);
    log("beamhub serve: pid 42");
    log("warning: the socket is wide open");
    logger.warn({ event: "call.slow", service: "nap", ms: 61.5, reason: "took long" }, "slow call to nap");
    expect(lines).toEqual([
      "beamhub serve: pid 42",
      "warning: the socket is wide open",
      'warning: slow call to nap service=nap ms=61.5 reason="took long"',
    ]);
  });

  it("drops what is below the level", () => {
    const { lines, logger } = capture("pretty", "warn");
    logger.info("hidden");
    logger.error("shown");
    expect(lines).toEqual(["error: shown"]);
  });

  it("never writes a token, key or Authorization header, whatever the format", () => {
    for (const format of ["json", "pretty"] as const) {
      const { lines, logger } = capture(format);
      logger.info(
        {
          token: "t-123",
          key: "k-456",
          headers: { authorization: "Bearer b-789" },
          peer: { password: "p-0" },
        },
        "careless",
      );
      expect(lines.join("\n")).not.toMatch(/t-123|k-456|b-789|p-0/);
      expect(lines.join("\n")).toContain("[redacted]");
    }
  });

  it("passes a line that is not JSON through unchanged", () => {
    expect(prettyLine("plain text")).toBe("plain text");
  });
});
