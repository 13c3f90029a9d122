import type { Lab } from "./lab.js";

/** One HTTP GET from the client namespace through curl; returns the body or undefined on failure. */
export async function clientGet(
  lab: Lab,
  host: string,
  port = 80,
  timeoutS = 1,
): Promise<string | undefined> {
  const url = host.includes(":") ? `http://[${host}]:${port}/` : `http://${host}:${port}/`;
  try {
    const body = await lab.client("curl", ["-sS", "-m", String(timeoutS), url], (timeoutS + 2) * 1000);
    return body.trim();
  } catch {
    return undefined;
  }
}
