// The product's dependency rule: src/ (what the image compiles and ships) never imports the lab
// (lab/), the test API server (testenv/), tests or benchmarks. They may import src/, not the
// other way round; a runbook command reaches a running lab only through src/ops/lab-control.ts.
// And one Kubernetes layer: only src/kube names client-node (issue 14).
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "..", "..");
const FORBIDDEN = ["lab", "testenv", "test", "bench"];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

/** Every module a file names: static and dynamic imports, `export … from`, `import("…")` types. */
function importsOf(text: string): string[] {
  const info = ts.preProcessFile(text, true, true);
  const named = info.importedFiles.map((f) => f.fileName);
  // preProcessFile skips import types in type positions; a regex catches those.
  const typeImports = [...text.matchAll(/import\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1]!);
  return [...new Set([...named, ...typeImports])];
}

/** The top-level folder a relative import from `file` lands in, or undefined for packages. */
function targetFolder(file: string, spec: string): string | undefined {
  if (!spec.startsWith(".")) return undefined;
  return relative(ROOT, resolve(dirname(file), spec)).split("/")[0];
}

describe("the product's dependency rule", () => {
  it("finds every kind of import (the scan itself)", () => {
    const text = [
      `import { a } from "../../lab/a.js";`,
      `export { b } from "../../testenv/b.js";`,
      `const c = await import("../../lab/c.js");`,
      `let d: import("../../lab/d.js").D;`,
      `import type { E } from "./e.js";`,
    ].join("\n");
    expect(importsOf(text).sort()).toEqual(
      ["../../lab/a.js", "../../lab/c.js", "../../lab/d.js", "../../testenv/b.js", "./e.js"].sort(),
    );
  });

  it("nothing under src/ imports lab/, testenv/, test/ or bench/", () => {
    const files = sourceFiles(join(ROOT, "src"));
    expect(files.length).toBeGreaterThan(50);
    const violations = files.flatMap((file) =>
      importsOf(readFileSync(file, "utf8"))
        .filter((spec) => FORBIDDEN.includes(targetFolder(file, spec) ?? ""))
        .map((spec) => `${relative(ROOT, file)} imports ${spec}`),
    );
    expect(violations).toEqual([]);
  });

  it("@kubernetes/client-node is named only by src/kube: loaded by fallback.ts, types by types.ts", () => {
    const sites = sourceFiles(join(ROOT, "src"))
      .filter((file) => importsOf(readFileSync(file, "utf8")).includes("@kubernetes/client-node"))
      .map((file) => relative(ROOT, file))
      .sort();
    expect(sites).toEqual(["src/kube/fallback.ts", "src/kube/types.ts"]);
  });
});
