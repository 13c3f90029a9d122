// The container image recipe (deploy/Containerfile). No container engine here, so: parse the recipe,
// check what makes it reproducible and least-privileged, and run its exact entry command from the
// built tree (`npm run build` output in dist/) to prove the image's process starts.
import { existsSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT, run } from "./support.js";

interface Instruction {
  op: string;
  args: string;
}

/** Instructions of a Containerfile: continuation lines joined, comments and blanks dropped. */
function parseContainerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!pending && (line === "" || line.startsWith("#"))) continue;
    if (pending && line.startsWith("#")) continue;
    pending += (pending ? " " : "") + line.replace(/\\$/, "").trim();
    if (line.endsWith("\\")) continue;
    const m = /^(\S+)\s*(.*)$/.exec(pending);
    if (m) out.push({ op: (m[1] ?? "").toUpperCase(), args: m[2] ?? "" });
    pending = "";
  }
  return out;
}

/** Splits at FROM: stage 0 holds the global ARGs. */
function stages(instructions: Instruction[]): Instruction[][] {
  const out: Instruction[][] = [[]];
  for (const i of instructions) {
    if (i.op === "FROM") out.push([]);
    out[out.length - 1]!.push(i);
  }
  return out;
}

const CONTAINERFILE = join(ROOT, "deploy", "Containerfile");
const instructions = parseContainerfile(readFileSync(CONTAINERFILE, "utf8"));
const [globalArgs = [], build = [], runtime = []] = stages(instructions);
const one = (stage: Instruction[], op: string) => {
  const hits = stage.filter((i) => i.op === op);
  expect(hits, `${op} in stage`).toHaveLength(1);
  return hits[0]!.args;
};
const runs = (stage: Instruction[]) => stage.filter((i) => i.op === "RUN").map((i) => i.args);

describe("deploy/Containerfile", () => {
  it("is a two-stage build from pinned Node 20 images (no floating tags)", () => {
    expect(instructions.filter((i) => i.op === "FROM")).toHaveLength(2);
    expect(build[0]?.args).toMatch(/^\$\{BUILD_IMAGE\} AS build$/);
    expect(runtime[0]?.args).toBe("${RUNTIME_IMAGE}");
    const defaults = Object.fromEntries(
      globalArgs.filter((i) => i.op === "ARG").map((i) => i.args.split("=") as [string, string]),
    );
    for (const name of ["BUILD_IMAGE", "RUNTIME_IMAGE"]) {
      // An exact patch version; a digest may be appended with --build-arg (deploy/README.md).
      expect(defaults[name]).toMatch(
        /^docker\.io\/library\/node:20\.\d+\.\d+-bookworm(-slim)?(@sha256:[a-f0-9]{64})?$/,
      );
    }
    expect(defaults.BUILD_IMAGE?.split(":")[1]?.split("-")[0]).toBe(
      defaults.RUNTIME_IMAGE?.split(":")[1]?.split("-")[0],
    );
  });

  it("builds from the lockfile, compiles the addon offline with node-gyp, and prunes dev dependencies", () => {
    const steps = runs(build).join("\n");
    expect(steps).toMatch(/npm ci --ignore-scripts/);
    expect(steps).toMatch(/node-gyp rebuild --directory native/);
    expect(steps).toMatch(/tsc -p deploy\/image\/tsconfig\.json/);
    expect(steps).toMatch(/npm prune --omit=dev/);
    // Node's own headers from the image (the node image's by default, Debian's /usr with
    // NODE_HEADERS): node-gyp would otherwise download them.
    expect(build.some((i) => i.op === "ARG" && i.args === "NODE_HEADERS=/usr/local")).toBe(true);
    expect(build.some((i) => i.op === "ENV" && i.args.includes("npm_config_nodedir=${NODE_HEADERS}"))).toBe(
      true,
    );
    // The lockfile is copied before any source, so dependency layers are reused and pinned.
    const copies = build.filter((i) => i.op === "COPY").map((i) => i.args);
    expect(copies[0]).toBe("package.json package-lock.json ./");
  });

  it("copies only paths that exist, and they cover everything the CLI entry point compiles from", async () => {
    const sources = build
      .filter((i) => i.op === "COPY")
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1))
      .map((p) => p.replace(/\/$/, ""));
    for (const s of sources) expect(existsSync(join(ROOT, s)), s).toBe(true);
    const listed = await run(process.execPath, [
      join(ROOT, "node_modules", "typescript", "bin", "tsc"),
      "-p",
      join(ROOT, "deploy", "image", "tsconfig.json"),
      "--listFilesOnly",
    ]);
    expect(listed.code, listed.stderr).toBe(0);
    const ours = listed.stdout
      .split("\n")
      .filter((f) => f && !f.includes("/node_modules/"))
      .map((f) => relative(ROOT, f));
    expect(ours).toContain("src/cli/main.ts");
    const uncovered = ours.filter((f) => !sources.some((s) => f === s || f.startsWith(`${s}/`)));
    expect(uncovered).toEqual([]);
    // The product is src/ alone: no tests, no lab, no test API server (they have their own entry points).
    expect(ours.filter((f) => !f.startsWith("src/"))).toEqual([]);
  });

  it("runs as a non-root user by default, with an exec-form entry point and --help as the default command", () => {
    expect(one(runtime, "USER")).toMatch(/^[1-9]\d*:[1-9]\d*$/);
    expect(one(runtime, "WORKDIR")).toBe("/app");
    expect(JSON.parse(one(runtime, "ENTRYPOINT"))).toEqual(["node", "/app/dist/src/cli/main.js"]);
    expect(JSON.parse(one(runtime, "CMD"))).toEqual(["--help"]);
    // Only the build output moves to the runtime stage: no compiler, no dev dependencies.
    expect(runtime.filter((i) => i.op === "COPY").map((i) => i.args)).toEqual(["--from=build /out/ /app/"]);
  });

  describe("its entry command, run from the built tree", () => {
    const main = join(ROOT, "dist", "src", "cli", "main.js");
    const built = existsSync(main);
    // The image's /app is the build stage's /src, i.e. this checkout after `npm run build`.
    const entry = () => {
      const [node, ...rest] = JSON.parse(one(runtime, "ENTRYPOINT")) as string[];
      expect(node).toBe("node");
      return rest.map((a) => a.replace(/^\/app\//, `${ROOT}/`));
    };
    const start = (args: string[]) =>
      run(process.execPath, [...entry(), ...args], { cwd: ROOT, timeoutMs: 60_000 });

    it("has a build to run (npm run build)", () => {
      expect(built, `${main} is missing: run \`npm run build\` (scripts/setup.sh does)`).toBe(true);
      const src = statSync(join(ROOT, "src", "cli", "render.ts")).mtimeMs;
      expect(
        statSync(join(ROOT, "dist", "src", "cli", "render.js")).mtimeMs,
        "dist/ is older than src/: npm run build",
      ).toBeGreaterThanOrEqual(src - 1000);
    });

    it.skipIf(!built)(
      "starts with the image's default command (--help) and lists every subcommand",
      async () => {
        const r = await start(JSON.parse(one(runtime, "CMD")) as string[]);
        expect(r.code, r.stderr).toBe(0);
        for (const cmd of ["speaker", "controller", "render"])
          expect(r.stdout).toMatch(new RegExp(`^\\s+${cmd}\\b`, "m"));
      },
    );

    it.skipIf(!built)(
      "starts the chart's two subcommands (args only, as the chart passes them)",
      async () => {
        for (const sub of ["speaker", "controller"]) {
          const r = await start([sub, "--help"]);
          expect(r.code, r.stderr).toBe(0);
          expect(r.stdout).toContain("--lb-class");
        }
        const version = await start(["--version"]);
        const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
        expect(version.stdout.trim()).toBe(pkg.version);
      },
    );

    it.skipIf(!built)(
      "finds the raw-socket addon where the image puts it (native/build/Release)",
      async () => {
        expect(existsSync(join(ROOT, "native", "build", "Release", "floatip_rawsocket.node"))).toBe(true);
        const probe = `import(${JSON.stringify(join(ROOT, "dist", "src", "native", "rawsocket.js"))}).then((m) => console.log(m.nativeAvailable(), m.nativeLoadError() ?? ""))`;
        const r = await run(process.execPath, ["--input-type=module", "-e", probe]);
        expect(r.stdout.trim()).toBe("true");
      },
    );
  });
});
