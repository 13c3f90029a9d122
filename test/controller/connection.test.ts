import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectionFromKubeconfigText, loadConnection } from "../../src/kube/connection.js";
import { compareResourceVersions } from "../../src/kube/reflector.js";
import { parseListenAddress } from "../../src/controller/server.js";

const kubeconfig = (user: object, cluster: object = {}): string =>
  JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    "current-context": "c",
    contexts: [{ name: "c", context: { cluster: "k", user: "u" } }],
    clusters: [{ name: "k", cluster: { server: "https://192.0.2.1:6443", ...cluster } }],
    users: [{ name: "u", user }],
  });

describe("kubeconfig without client-node", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "floatip-kc-"));
    await writeFile(join(dir, "ca.crt"), "CA-PEM");
    await writeFile(join(dir, "token"), "file-token\n");
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("reads embedded certificates", () => {
    const c = connectionFromKubeconfigText(
      kubeconfig(
        {
          "client-certificate-data": Buffer.from("CERT").toString("base64"),
          "client-key-data": Buffer.from("KEY").toString("base64"),
        },
        {
          "certificate-authority-data": Buffer.from("CA").toString("base64"),
          "tls-server-name": "kubernetes",
        },
      ),
      join(dir, "config"),
    );
    expect(c.server).toBe("https://192.0.2.1:6443");
    expect(String(c.tls.ca)).toBe("CA");
    expect(String(c.tls.cert)).toBe("CERT");
    expect(String(c.tls.key)).toBe("KEY");
    expect(c.tls.servername).toBe("kubernetes");
  });

  it("resolves file paths relative to the kubeconfig and reads token files", async () => {
    const c = connectionFromKubeconfigText(
      kubeconfig({ tokenFile: "token" }, { "certificate-authority": "ca.crt" }),
      join(dir, "config"),
    );
    expect(String(c.tls.ca)).toBe("CA-PEM");
    expect(await c.headers()).toEqual({ Authorization: "Bearer file-token" });
  });

  it("supports static tokens, basic auth, impersonation and skip-verify", async () => {
    const t = connectionFromKubeconfigText(
      kubeconfig({ token: "abc", as: "someone" }, { "insecure-skip-tls-verify": true }),
      "x",
    );
    expect(await t.headers()).toEqual({ Authorization: "Bearer abc", "Impersonate-User": "someone" });
    expect(t.tls.rejectUnauthorized).toBe(false);
    const b = connectionFromKubeconfigText(kubeconfig({ username: "u", password: "p" }), "x");
    expect(await b.headers()).toEqual({ Authorization: `Basic ${Buffer.from("u:p").toString("base64")}` });
  });

  it("says which context is missing", () => {
    expect(() => connectionFromKubeconfigText(JSON.stringify({ "current-context": "nope" }), "/k")).toThrow(
      '/k: current-context "nope" not found',
    );
  });

  it("hands exec plugins to client-node", async () => {
    const path = join(dir, "exec");
    await writeFile(
      path,
      kubeconfig({
        exec: {
          apiVersion: "client.authentication.k8s.io/v1",
          command: "sh",
          args: [
            "-c",
            `echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"from-exec"}}'`,
          ],
          interactiveMode: "Never",
        },
      }),
    );
    const c = await loadConnection(path);
    expect(c.source).toBe(path);
    expect(await c.headers()).toMatchObject({ Authorization: "Bearer from-exec" });
  });
});

describe("small helpers", () => {
  it("orders etcd resourceVersions numerically, refuses to order anything else", () => {
    expect(compareResourceVersions("9", "10")).toBe(-1);
    expect(compareResourceVersions("10", "10")).toBe(0);
    expect(compareResourceVersions("abc", "10")).toBeUndefined();
    expect(compareResourceVersions(undefined, "10")).toBeUndefined();
  });

  it("parses listen addresses", () => {
    expect(parseListenAddress("0.0.0.0:7473")).toEqual({ host: "0.0.0.0", port: 7473 });
    expect(parseListenAddress("[::]:7473")).toEqual({ host: "::", port: 7473 });
    expect(parseListenAddress(":9")).toEqual({ host: "0.0.0.0", port: 9 });
    expect(() => parseListenAddress("7473")).toThrow("host:port");
    expect(() => parseListenAddress("a:99999")).toThrow();
  });
});
