import type { ResultEvent } from "../task-broker.js";
import type { HttpResponse } from "./http-exchange.js";

/**
 * Writes a task's result events as Server-Sent Events, in Samply's framing:
 * `event: <name>\ndata: <one line of JSON>\n\n`, ending the response when the events end. The
 * first event is pulled before the headers go out, so a 403/404 is still an ordinary status.
 */
export async function streamResultEvents(
  response: HttpResponse,
  events: AsyncGenerator<ResultEvent>,
): Promise<void> {
  const first = await events.next();
  response.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  const write = (event: ResultEvent): void => {
    (response.write as (chunk: string) => boolean)(
      `event: ${event.event}\ndata: ${JSON.stringify(event.data)}\n\n`,
    );
  };
  try {
    if (first.done !== true) write(first.value);
    for await (const event of { [Symbol.asyncIterator]: () => events }) write(event);
  } finally {
    response.end();
  }
}
