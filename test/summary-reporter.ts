// Ends every run with one plain line, "N passed, N failed, N skipped", that any CI can read. A skip
// is never silent: tests skipped for a missing need (root, a tool; see helpers/needs.ts) are
// counted once per need, with the command that would run them, and any other skip is named. A file
// that failed outside its tests (at collection, in a hook) is named with its error and counted, so
// a run that fails always says why.
import type { Reporter, TestModule } from "vitest/node";

export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    const byNeed = new Map<string, { need: string; how: string; tests: number; files: Set<string> }>();
    const otherSkips: string[] = [];
    const broken: string[] = [];
    for (const module of testModules) {
      let failedHere = 0;
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === "passed") passed++;
        else if (state === "failed") {
          failed++;
          failedHere++;
        } else if (state === "skipped") {
          skipped++;
          const needs = test.meta().needs;
          if (needs === undefined) {
            otherSkips.push(test.fullName);
            continue;
          }
          const key = `${needs.need}\n${needs.how}`;
          const group = byNeed.get(key) ?? { ...needs, tests: 0, files: new Set<string>() };
          group.tests++;
          group.files.add(module.relativeModuleId);
          byNeed.set(key, group);
        }
      }
      if (module.state() === "failed" && failedHere === 0) {
        const errors = [...module.errors(), ...[...module.children.allSuites()].flatMap((s) => s.errors())];
        const why = errors.map((e) => e.message.split("\n")[0]).join("; ") || "see its output above";
        broken.push(`${module.relativeModuleId}: ${why}`);
      }
    }
    for (const name of otherSkips) process.stdout.write(`skipped: ${name}\n`);
    for (const g of byNeed.values()) {
      const files = g.files.size === 1 ? "1 file" : `${g.files.size} files`;
      const tests = g.tests === 1 ? "1 test" : `${g.tests} tests`;
      process.stdout.write(
        `\n*** skipped ${tests} (${files}) that ${g.tests === 1 ? "needs" : "need"} ${g.need}: ${g.how} ***\n`,
      );
    }
    for (const line of broken) process.stdout.write(`\nfailed to run: ${line}\n`);
    const brokenCount =
      broken.length > 0 ? `, ${broken.length} ${broken.length === 1 ? "file" : "files"} failed to run` : "";
    process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped} skipped${brokenCount}\n`);
  }
}
