import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseCredentialsFile, resolveCredentials } from "../../../src/ops/cloudsigma/credentials.js";
import { UsageError } from "../../../src/ops/outcome.js";

describe("credentials", () => {
  it("parses JSON and env-file forms", () => {
    expect(parseCredentialsFile('{"username": "u@example.com", "password": "p"}')).toEqual({
      username: "u@example.com",
      password: "p",
    });
    expect(
      parseCredentialsFile(
        "# comment\nexport CLOUDSIGMA_USERNAME=u@example.com\nCLOUDSIGMA_PASSWORD='p=q'\n",
      ),
    ).toEqual({ username: "u@example.com", password: "p=q" });
    expect(parseCredentialsFile("username=u\n")).toBeUndefined();
    expect(parseCredentialsFile("{not json")).toBeUndefined();
  });

  it("prefers --credentials-file, falls back to the environment, and never echoes values", async () => {
    const dir = await mkdtemp(join(tmpdir(), "floatip-cs-creds-"));
    try {
      const file = join(dir, "c.json");
      await writeFile(file, '{"username": "file@example.com", "password": "from-file"}');
      const env = { CLOUDSIGMA_USERNAME: "env@example.com", CLOUDSIGMA_PASSWORD: "from-env" };
      expect(resolveCredentials(file, env).password).toBe("from-file");
      expect(resolveCredentials(undefined, env).password).toBe("from-env");
      expect(() => resolveCredentials(undefined, { CLOUDSIGMA_USERNAME: "env@example.com" })).toThrow(
        /missing CloudSigma credentials: set CLOUDSIGMA_PASSWORD or pass --credentials-file/,
      );
      await writeFile(file, "password=only-secret\n");
      const err = (() => {
        try {
          resolveCredentials(file, env);
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(UsageError);
      expect((err as Error).message).not.toContain("only-secret");
      expect(() => resolveCredentials(join(dir, "missing"), env)).toThrow(
        /cannot read --credentials-file .* \(ENOENT\)/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
