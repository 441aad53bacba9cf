// The endpoint parses a request's target once, and most targets without `new URL` (issue 19):
// whatever path it takes, the path and parameters must be those `new URL` gives, or a request
// could reach a route (or an access rule see a name) other than the one URL parsing names.
import { describe, expect, it } from "vitest";
import { parseRequestTarget, targetUrl } from "../../transports/http2/request-target.js";

/** `query`: whether there is one (routes skip parsing none); URL escapes its `search`, the plain path does not. */
type Parsed = { pathname: string; parameters: [string, string][]; query: boolean };

function viaUrl(target: string): Parsed | undefined {
  try {
    const url = new URL(target, "https://hub.invalid");
    return { pathname: url.pathname, parameters: [...url.searchParams], query: url.search !== "" };
  } catch {
    return undefined;
  }
}

function parsed(target: string): Parsed | undefined {
  const result = parseRequestTarget(target);
  return result === undefined
    ? undefined
    : { pathname: result.pathname, parameters: [...result.searchParams], query: result.search !== "" };
}

const TRICKY = [
  "/beamhub/v1/call/echo",
  "/beamhub/v1/call/echo?timeout=50",
  "/beamhub/v1/call/a%2Fb?x=1&x=2&y=%20+z",
  "/beamhub/v1/call/../services",
  "/beamhub/v1/call/%2e%2E/services",
  "/beamhub/v1/call/.%2e/services",
  "/beamhub/v1/./services",
  "/beamhub/v1/call/a.b/./c",
  "/beamhub/v1/call/a%2e",
  "//beamhub/v1/call/echo",
  "/beamhub/v1/call/echo#fragment",
  "/beamhub/v1/call/ec ho",
  "/beamhub/v1/call/ec\tho",
  "/beamhub/v1/call/a\\..\\services",
  '/beamhub/v1/call/"quoted"',
  "/beamhub/v1/call/<a>{b}`c`^d|e",
  "/beamhub/v1/call/echo?q=<x>&r=`{}`",
  "/beamhub/v1/call/é",
  "/beamhub/v1/call/echo?name=é%C3%A9",
  "https://other.example/beamhub/v1/call/echo?timeout=1",
  "*",
  "",
  "/",
  "?only=query",
  "/beamhub/v1/call/echo?",
];

describe("parseRequestTarget", () => {
  it.each(TRICKY)("gives what new URL gives for %j", (target) => {
    expect(parsed(target)).toEqual(viaUrl(target));
  });

  it("gives what new URL gives for 20,000 generated targets", () => {
    // Deterministic: a fixed-seed generator over the characters URL parsing treats specially.
    let seed = 0x2545f491;
    const next = (bound: number): number => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % bound;
    };
    const pieces = [
      "/",
      "/",
      "a",
      "b",
      ".",
      "..",
      "%2e",
      "%2E",
      "%",
      "%41",
      "?",
      "&",
      "=",
      "+",
      "#",
      " ",
      "\t",
      "\\",
      "<",
      "`",
      "{",
      '"',
      "'",
      "é",
      ":",
      "@",
      ";",
      "~",
    ];
    for (let i = 0; i < 20_000; i++) {
      let target = next(4) === 0 ? "" : "/";
      for (let length = next(12); length > 0; length--) target += pieces[next(pieces.length)];
      expect(parsed(target), JSON.stringify(target)).toEqual(viaUrl(target));
    }
  });

  it("parses the query only when it is read, once", () => {
    const target = parseRequestTarget("/beamhub/v1/services?prefix=a")!;
    expect(target.pathname).toBe("/beamhub/v1/services");
    expect(target.searchParams).toBe(target.searchParams);
    expect(target.searchParams.get("prefix")).toBe("a");
  });

  it("turns a target into the URL with the same path and parameters (for routes that take one)", () => {
    for (const text of [
      "/beamhub/v1/pubsub/a%2Fb?last=3&x=a+b&x=%26",
      "/beamhub/v1/pubsub/c",
      "/beamhub/v1/../v1/x?y",
    ]) {
      const url = targetUrl(parseRequestTarget(text)!);
      expect(url).toBeInstanceOf(URL);
      expect({ pathname: url.pathname, parameters: [...url.searchParams], query: url.search !== "" }).toEqual(
        viaUrl(text),
      );
    }
  });
});
