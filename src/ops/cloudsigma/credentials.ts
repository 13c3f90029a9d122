import { readFileSync } from "node:fs";
import type { Credentials } from "./client.js";
import { UsageError } from "../outcome.js";

/**
 * Credentials from `--credentials-file` when given, else from CLOUDSIGMA_USERNAME and
 * CLOUDSIGMA_PASSWORD. Error messages name the source, never a value.
 *
 * File formats: JSON `{"username": "...", "password": "..."}`, or env-file lines
 * `CLOUDSIGMA_USERNAME=...` / `CLOUDSIGMA_PASSWORD=...` (also `username=` / `password=`; values
 * may be quoted; `#` starts a comment line).
 */
export function resolveCredentials(
  credentialsFile: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Credentials {
  if (credentialsFile) {
    let text: string;
    try {
      text = readFileSync(credentialsFile, "utf8");
    } catch (err) {
      const code = (err as { code?: string }).code ?? "unreadable";
      throw new UsageError(`cannot read --credentials-file ${credentialsFile} (${code})`);
    }
    const creds = parseCredentialsFile(text);
    if (!creds) {
      throw new UsageError(
        `--credentials-file ${credentialsFile} has no username and password ` +
          `(expected JSON {"username","password"} or CLOUDSIGMA_USERNAME=/CLOUDSIGMA_PASSWORD= lines)`,
      );
    }
    return creds;
  }
  const username = env.CLOUDSIGMA_USERNAME;
  const password = env.CLOUDSIGMA_PASSWORD;
  if (!username || !password) {
    const missing = [!username && "CLOUDSIGMA_USERNAME", !password && "CLOUDSIGMA_PASSWORD"].filter(Boolean);
    throw new UsageError(
      `missing CloudSigma credentials: set ${missing.join(" and ")} or pass --credentials-file`,
    );
  }
  return { username, password };
}

export function parseCredentialsFile(text: string): Credentials | undefined {
  const trimmed = text.trim();
  if (trimmed.startsWith("{")) {
    try {
      const obj = JSON.parse(trimmed) as { username?: unknown; password?: unknown };
      if (
        typeof obj.username === "string" &&
        typeof obj.password === "string" &&
        obj.username &&
        obj.password
      ) {
        return { username: obj.username, password: obj.password };
      }
    } catch {
      // not JSON after all: fall through to env-file lines
    }
    return undefined;
  }
  const values = new Map<string, string>();
  for (const raw of trimmed.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    if (eq <= 0) continue;
    const key = line
      .slice(0, eq)
      .trim()
      .replace(/^export\s+/, "")
      .toLowerCase();
    let value = line.slice(eq + 1).trim();
    if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.endsWith(value[0])) {
      value = value.slice(1, -1);
    }
    values.set(key.replace(/^cloudsigma_/, ""), value);
  }
  const username = values.get("username");
  const password = values.get("password");
  return username && password ? { username, password } : undefined;
}
