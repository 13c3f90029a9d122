import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FakeCloudSigma } from "../../support/fake-cloudsigma.js";
import { runCli, type CliResult } from "../../support/cli.js";
import { startFixture } from "./fixtures.js";

const SECRET = "fake-password";

/** The cloudsigma subcommand with only the given environment (no stray credentials). */
function floatip(args: string[], env: Record<string, string | undefined>): Promise<CliResult> {
  return runCli(["cloudsigma", ...args], {
    timeoutMs: 50_000,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
  });
}

describe("floatip cloudsigma (CLI)", () => {
  let fake: FakeCloudSigma;
  let dir: string;
  beforeAll(async () => {
    fake = await startFixture();
    dir = await mkdtemp(join(tmpdir(), "floatip-cs-"));
  });
  afterAll(async () => {
    await fake?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("check prints the table with fixes, exits 1, and never prints the credentials", async () => {
    const creds = join(dir, "creds.env");
    await writeFile(creds, `CLOUDSIGMA_USERNAME=user@example.com\nCLOUDSIGMA_PASSWORD="${SECRET}"\n`, {
      mode: 0o600,
    });
    const r = await floatip(
      ["check", "--server", "cp-1", "--floating-ip", "203.0.113.200", "--credentials-file", creds],
      { CLOUDSIGMA_API_URL: fake.url },
    );
    expect(r.stderr).toBe("");
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^cp-1\s+.*\s+static\s+203\.0\.113\.11\s+no\s+FAIL$/m);
    expect(r.stdout).toMatch(
      /fix: run floatip cloudsigma fix-nic --server 00000000-0000-4000-8000-000000000001/,
    );
    expect(r.stdout).toMatch(/fix: subscribe the IP in the CloudSigma panel/);
    expect(r.stdout + r.stderr).not.toContain(SECRET);
  });

  it("exits 2 on usage errors: invalid IP, missing credentials, no confirmation possible", async () => {
    const env = {
      CLOUDSIGMA_API_URL: fake.url,
      CLOUDSIGMA_USERNAME: "user@example.com",
      CLOUDSIGMA_PASSWORD: SECRET,
    };
    const before = fake.requestsFor("PUT").length;
    // Independent processes: run them side by side (each pays the tsx start-up).
    const [bad, noCreds, noTty] = await Promise.all([
      floatip(["check", "--server", "cp-1", "--floating-ip", "203.0.113.300"], env),
      floatip(["check", "--server", "cp-1"], { CLOUDSIGMA_API_URL: fake.url }),
      floatip(["fix-nic", "--server", "cp-1"], env),
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--floating-ip: "203\.0\.113\.300": octet 300 is greater than 255/);

    expect(noCreds.code).toBe(2);
    expect(noCreds.stderr).toMatch(
      /missing CloudSigma credentials: set CLOUDSIGMA_USERNAME and CLOUDSIGMA_PASSWORD/,
    );

    expect(noTty.code).toBe(2);
    expect(noTty.stderr).toMatch(/not a terminal; pass --yes/);
    expect(fake.requestsFor("PUT")).toHaveLength(before);
    expect(noTty.stdout + noTty.stderr).not.toContain(SECRET);
  });
});
