/** The README's TypeScript snippets, each a complete program, in README order. */
import { readFileSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dirname, "..", "..");

/** Every ```ts block of README.md. */
export function readmeSnippets(): string[] {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  return [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]!);
}

/**
 * What a snippet says it prints: the comment after each `console.log(...)` that ends a line
 * (`console.log(x); // what it prints`).
 */
export function promisedOutput(snippet: string): string[] {
  return [...snippet.matchAll(/^console\.log\(.*\); \/\/ (.+)$/gm)].map((match) => match[1]!);
}
