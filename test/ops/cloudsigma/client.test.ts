import { afterEach, describe, expect, it } from "vitest";
import { CloudSigmaClient, parseErrorBody, retryAfterMs } from "../../../src/ops/cloudsigma/client.js";
import { CloudSigmaApiError } from "../../../src/ops/cloudsigma/errors.js";
import { FakeCloudSigma, makeServer, publicNic } from "../../support/fake-cloudsigma.js";
import { startFixture } from "./fixtures.js";

let fake: FakeCloudSigma | undefined;
afterEach(async () => {
  await fake?.stop();
  fake = undefined;
});

function clientFor(
  f: FakeCloudSigma,
  extra: Partial<ConstructorParameters<typeof CloudSigmaClient>[0]> = {},
) {
  const delays: number[] = [];
  const client = new CloudSigmaClient({
    apiUrl: f.url,
    credentials: f.credentials,
    backoffMs: 1,
    maxBackoffMs: 5,
    sleep: async (ms) => void delays.push(ms),
    ...extra,
  });
  return { client, delays };
}

describe("CloudSigmaClient", () => {
  it("authenticates with HTTP Basic and lists every server across pages", async () => {
    const servers = Array.from({ length: 5 }, (_, i) =>
      makeServer(i + 1, `node-${i + 1}`, "stopped", [publicNic(`22:00:00:00:0${i + 1}:01`, "dhcp")]),
    );
    fake = await new FakeCloudSigma({ servers, defaultLimit: 2 }).start();
    const { client } = clientFor(fake, { pageSize: 2 });
    const listed = await client.listServers();
    expect(listed.map((s) => s.name)).toEqual(["node-1", "node-2", "node-3", "node-4", "node-5"]);
    const gets = fake.requestsFor("GET", "/servers/detail/");
    expect(gets.map((r) => r.query)).toEqual([
      { limit: "2", offset: "0" },
      { limit: "2", offset: "2" },
      { limit: "2", offset: "4" },
    ]);
    const expected = `Basic ${Buffer.from("user@example.com:fake-password").toString("base64")}`;
    expect(gets.every((r) => r.authorization === expected)).toBe(true);
  });

  it("retries 500 and 429 with backoff, honouring Retry-After", async () => {
    fake = await startFixture();
    fake.failNext({ status: 500, times: 2, path: "/servers/" });
    fake.failNext({
      status: 429,
      retryAfter: "2",
      errorType: "permission",
      message: "slow down",
      path: "/servers/",
    });
    const { client, delays } = clientFor(fake);
    const server = await client.getServer("00000000-0000-4000-8000-000000000001");
    expect(server.name).toBe("cp-1");
    expect(fake.requestsFor("GET", "/servers/")).toHaveLength(4);
    expect(delays).toHaveLength(3);
    expect(delays[2]).toBeGreaterThanOrEqual(2000); // Retry-After: 2
  });

  it("gives up after the configured retries with a message naming the attempts", async () => {
    fake = await startFixture();
    fake.failNext({ status: 503, times: 10, path: "/ips/" });
    const { client } = clientFor(fake, { retries: 2 });
    const err = await client.getIp("203.0.113.100").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CloudSigmaApiError);
    expect((err as CloudSigmaApiError).status).toBe(503);
    expect((err as Error).message).toMatch(
      /GET \/ips\/203\.0\.113\.100\/: HTTP 503 after 3 attempts: injected failure/,
    );
    expect(fake.requestsFor("GET", "/ips/")).toHaveLength(3);
  });

  it("does not retry 4xx: 403 once, with the API's message", async () => {
    fake = await startFixture();
    fake.failNext({
      status: 403,
      errorType: "permission",
      message: "Not allowed for this user",
      path: "/servers/",
    });
    const { client } = clientFor(fake);
    const err = await client.listServers().catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/403 Forbidden.*not allowed: Not allowed for this user/);
    expect(fake.requests).toHaveLength(1);
  });

  it("explains 401 without printing the credentials", async () => {
    fake = await startFixture();
    const client = new CloudSigmaClient({
      apiUrl: fake.url,
      credentials: { username: "user@example.com", password: "wrong-secret-42" },
    });
    const err = await client.listServers().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CloudSigmaApiError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/401 Unauthorized.*rejected the credentials.*CLOUDSIGMA_USERNAME/);
    expect(msg).not.toContain("wrong-secret-42");
    expect(JSON.stringify(client)).not.toContain("wrong-secret-42");
    expect(JSON.stringify(client)).not.toContain(
      Buffer.from("user@example.com:wrong-secret-42").toString("base64"),
    );
    expect(fake.requests).toHaveLength(1);
  });

  it("answers undefined for an unknown IP (404) and a clear error for an unknown server", async () => {
    fake = await startFixture();
    const { client } = clientFor(fake);
    expect(await client.getIp("203.0.113.200")).toBeUndefined();
    const err = await client.getServer("00000000-0000-4000-8000-00000000ffff").catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/404 Not Found.*does not exist/);
  });

  it("times out a hanging request and retries it", async () => {
    fake = await startFixture();
    fake.failNext({ hang: true, path: "/ips/" });
    const { client, delays } = clientFor(fake, { timeoutMs: 200 });
    const ip = await client.getIp("203.0.113.100");
    expect(ip?.subscription).toBeTruthy();
    expect(delays).toHaveLength(1);
  });

  it("reports an unreachable endpoint as a network error", async () => {
    const client = new CloudSigmaClient({
      apiUrl: "http://127.0.0.1:9/api/2.0/",
      credentials: { username: "u", password: "p" },
      retries: 1,
      sleep: async () => {},
    });
    await expect(client.listServers()).rejects.toThrow(/network error.*after 2 attempts/);
  });
});

describe("response helpers", () => {
  it("parses the documented error body", () => {
    expect(
      parseErrorBody(
        '[{"error_message": "This field is required", "error_point": "resource", "error_type": "validation"}]',
      ),
    ).toEqual({ message: "This field is required (resource)", type: "validation" });
    expect(parseErrorBody("<html>oops</html>")).toEqual({});
  });

  it("reads Retry-After in seconds or as a date, capped", () => {
    expect(retryAfterMs("3")).toBe(3000);
    expect(retryAfterMs("100000")).toBe(60_000);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 5_000)).toBe(5_000);
    expect(retryAfterMs("soon")).toBeUndefined();
    expect(retryAfterMs(null)).toBeUndefined();
  });
});
