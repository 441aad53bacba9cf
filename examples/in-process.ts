/**
 * beamhub in one process: two services talking through a hub, with a nested request in each
 * direction, a byte stream and a file descriptor. Run it with `npm start` (or
 * `npx tsx examples/in-process.ts`).
 */
import { mkdtemp, open, readFile, rm, writeFile } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ByteStream, Channel, FileDescriptor, Hub } from "beamhub";

const log = (line: string): void => console.log(line);

export async function main(): Promise<void> {
  const hub = new Hub();

  // Service 1: a spell checker. It asks the caller back (a request in the reverse direction)
  // whether unknown words should be learned.
  const dictionary = new Set(["hello", "world", "beam"]);
  await hub.register("spell.check", async (data: { words: string[]; ask: Channel }) => {
    const unknown = data.words.filter((word) => !dictionary.has(word));
    for (const word of unknown) {
      const learn = await data.ask.request({ question: `learn "${word}"?` });
      if (learn === true) dictionary.add(word);
    }
    return { unknown, dictionarySize: dictionary.size };
  });

  // Service 2: a word counter. It reads a byte stream to its end, and a file through a
  // descriptor it is handed; it calls service 1 for the words it found (service to service).
  await hub.register(
    "words.count",
    async (data: { text: ByteStream; file: FileDescriptor; ask: Channel }) => {
      let text = "";
      const decoder = new TextDecoder();
      for await (const chunk of data.text.readable) text += decoder.decode(chunk, { stream: true });
      const handle = data.file.take() as FileHandle;
      const fileText = await readFile(handle, "utf8");
      await handle.close();
      const words = `${text} ${fileText}`.split(/\s+/).filter(Boolean);
      // Nested: this handler calls another service, passing on the caller's channel.
      const spelling = await hub.call<{ unknown: string[] }>("spell.check", { words, ask: data.ask });
      return { words: words.length, unknown: spelling.unknown };
    },
  );

  // The caller: answers the spell checker's questions on its end of a channel.
  const [questions, questionsForService] = Channel.pair();
  questions.handle((data) => {
    const { question } = data as { question: string };
    log(`  service asks: ${question} -> yes`);
    return true;
  });

  // A byte stream carries some text; a file descriptor carries more.
  const [textOut, textIn] = ByteStream.pair();
  const dir = await mkdtemp(join(tmpdir(), "beamhub-example-"));
  const path = join(dir, "more.txt");
  await writeFile(path, "beamhub passes descriptors");
  const file = await open(path, "r");

  const counting = hub.call<{ words: number; unknown: string[] }>("words.count", {
    text: textIn,
    file: new FileDescriptor(file),
    ask: questionsForService,
  });
  const writer = textOut.writable.getWriter();
  await writer.write(new TextEncoder().encode("hello world from a beam stream"));
  await writer.close();

  const result = await counting;
  log(`words.count -> ${JSON.stringify(result)}`);
  log(`services: ${(await hub.list()).map((service) => service.name).join(", ")}`);

  questions.close();
  await hub.close();
  await rm(dir, { recursive: true, force: true });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await main();
}
