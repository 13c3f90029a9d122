// `floatip speaker` and `floatip controller` start from the same CLI as the runbook commands. What
// a command runs is imported when it runs (`await import` in its action), so a speaker's process
// does not parse and keep the doctor, migrate, render or controller code (it loaded 103 modules
// beyond the speaker's own, the yaml package among them, and now 27: 1.6 MB less heap and ~6 MB of RSS just after start; an idle speaker five minutes later
// measured the same RSS either way, bench/README.md), and a runbook command loads only its own.
import { existsSync, readFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "..", "..");

/** The modules `file` imports when it is loaded: static, value imports (not `import type`, not `import()`). */
function staticImports(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest);
  const specs: string[] = [];
  for (const node of source.statements) {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause;
      if (clause?.isTypeOnly) continue;
      const named = clause?.namedBindings;
      const onlyTypes =
        clause !== undefined &&
        clause.name === undefined &&
        named !== undefined &&
        ts.isNamedImports(named) &&
        named.elements.length > 0 &&
        named.elements.every((e) => e.isTypeOnly);
      if (!onlyTypes) specs.push((node.moduleSpecifier as ts.StringLiteral).text);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && !node.isTypeOnly) {
      specs.push((node.moduleSpecifier as ts.StringLiteral).text);
    }
  }
  return specs;
}

/** Every module (repo-relative .ts path) and package loaded with `entry`, before any action runs. */
function loadedWith(entry: string): { modules: Set<string>; packages: Set<string> } {
  const modules = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string): void => {
    const rel = relative(ROOT, file);
    if (modules.has(rel)) return;
    modules.add(rel);
    for (const spec of staticImports(file)) {
      if (!spec.startsWith(".")) {
        if (!spec.startsWith("node:")) packages.add(spec);
        continue;
      }
      const target = resolve(dirname(file), spec.replace(/\.js$/, ".ts"));
      if (existsSync(target)) visit(target);
    }
  };
  visit(resolve(ROOT, entry));
  return { modules, packages };
}

describe("what the CLI loads before a command runs", () => {
  it("finds static value imports only (the scan itself)", () => {
    const file = resolve(ROOT, "src/cli/render.ts");
    expect(staticImports(file)).not.toContain("../ops/render/bundle.js"); // type-only, and imported when run
    expect(staticImports(resolve(ROOT, "src/cli/program.ts"))).toContain("./speaker.js");
  });

  it("no command's implementation: no controller, allocator, runbook or render code, no yaml", () => {
    const { modules, packages } = loadedWith("src/cli/main.ts");
    const heavy = [...modules].filter(
      (m) =>
        /^src\/(allocator|speaker\/(?!defaults|forward-plan|heartbeat-keys))\//.test(m) ||
        (m.startsWith("src/controller/") && m !== "src/controller/defaults.ts") ||
        /^src\/ops\/(doctor|migrate|rollback|render|envoy\/(?!types))\//.test(m) ||
        m === "src/ops/cloudsigma/run.ts" ||
        m === "src/kube/api.ts",
    );
    expect(heavy).toEqual([]);
    expect([...packages].sort()).toEqual(["commander", "ipaddr.js", "pino"]);
    expect(modules.size).toBeLessThan(60);
  });
});
