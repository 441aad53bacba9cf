// Prints the one line CI reads — "N passed, N failed, N skipped" — computed from vitest's JSON
// report, so it always reflects what the runner really saw. A missing or unreadable report means
// the run itself broke: that is reported as a failure, never as zero tests.
import { readFileSync } from "node:fs";

const file = process.argv[2] ?? ".vitest-results.json";
let report;
try {
  report = JSON.parse(readFileSync(file, "utf8"));
} catch (error) {
  console.log(`test report ${file} is missing or unreadable: ${error.message}`);
  console.log("0 passed, 1 failed");
  process.exit(1);
}
let passed = 0;
let failed = 0;
let skipped = 0;
for (const suite of report.testResults ?? []) {
  const tests = suite.assertionResults ?? [];
  // A test file that fails to load has no assertions but still failed.
  if (tests.length === 0 && suite.status === "failed") failed += 1;
  for (const test of tests) {
    if (test.status === "passed") passed += 1;
    else if (test.status === "failed") failed += 1;
    else skipped += 1;
  }
}
console.log(
  skipped > 0
    ? `${passed} passed, ${failed} failed, ${skipped} skipped`
    : `${passed} passed, ${failed} failed`,
);
process.exit(failed > 0 ? 1 : 0);
