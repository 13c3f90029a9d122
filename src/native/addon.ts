// Finds and loads one of the native addons built by node-gyp into native/build/Release.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

export type Loaded<T> = { addon: T; error?: undefined } | { addon?: undefined; error: string };

// This file runs from src/native (tsx) or dist/src/native (tsc), so walk up to the repo root holding the build.
function findAddon(name: string): string | undefined {
  const relative = path.join("native", "build", "Release", `${name}.node`);
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = path.join(dir, relative);
    if (existsSync(candidate)) return candidate;
    dir = path.dirname(dir);
  }
  return undefined;
}

/** Loads `native/build/Release/<name>.node`; never throws: a missing or broken build says how to fix it. */
export function loadAddon<T>(name: string): Loaded<T> {
  try {
    const file = findAddon(name);
    if (file === undefined) return { error: `native addon ${name} not built: run npm run build:native` };
    return { addon: createRequire(import.meta.url)(file) as T };
  } catch (err) {
    return {
      error: `native addon ${name} failed to load (${(err as Error).message}): run npm run build:native`,
    };
  }
}
