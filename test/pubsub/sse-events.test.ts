// How pub/sub items become server-sent events (hub/http-api/pubsub-events.ts): one event per
// item, `data` always one line of JSON in FORMATS.md's JSON form, and a message JSON cannot
// hold told as `unencodable` rather than dropped or breaking the stream.
import { describe, expect, it } from "vitest";
import { eventOf } from "../../hub/http-api/pubsub-events.js";
import { parseEvent } from "../http2/sse-client.js";

const message = { from: "alice", seq: 7, time: 1_796_000_000_000 };

function single(text: string) {
  expect(text.endsWith("\n\n")).toBe(true);
  expect(text.slice(0, -2)).not.toContain("\n\n"); // exactly one event
  return parseEvent(text.slice(0, -2));
}

describe("eventOf", () => {
  it("sends a message with its seq as id and its data in the JSON form", () => {
    const event = single(
      eventOf({
        ...message,
        data: { text: "two\nlines", bin: new Uint8Array([1, 2]), tagged: { $x: 1 }, big: 2n ** 70n },
      }),
    );
    expect(event).toMatchObject({ id: "7", event: "message" });
    expect(JSON.parse(event.data!)).toEqual({
      ...message,
      data: {
        text: "two\nlines",
        bin: { $bytes: "AQI=" },
        tagged: { $: { $x: 1 } },
        big: { $bigint: "1180591620717411303424" },
      },
    });
  });

  it("sends undefined data as null", () => {
    expect(JSON.parse(single(eventOf({ ...message, data: undefined })).data!)).toEqual({
      ...message,
      data: null,
    });
  });

  it("tells a message JSON cannot hold as unencodable, with why", () => {
    const event = single(eventOf({ ...message, data: { ratio: Number.NaN } }));
    expect(event).toMatchObject({ id: "7", event: "unencodable" });
    expect(JSON.parse(event.data!)).toEqual({
      ...message,
      message: expect.stringMatching(/cannot be sent as JSON.*NaN/),
    });
  });

  it("sends a lagged notice without an id, broadcast gaps with their place", () => {
    expect(single(eventOf({ lagged: 3 }))).toEqual({ event: "lagged", data: '{"lagged":3}' });
    const gap = single(eventOf({ lagged: 2, seq: 9, bytes: 100, at: 4096 }));
    expect(JSON.parse(gap.data!)).toEqual({ lagged: 2, seq: 9, bytes: 100, at: 4096 });
  });
});
