import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

export interface ControlPlaneCerts {
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  adminCert: string;
  adminKey: string;
  /** Client certificate of user system:kube-proxy, bound to system:node-proxier by the bootstrap policy. */
  kubeProxyCert: string;
  kubeProxyKey: string;
  serviceAccountKey: string;
  serviceAccountPub: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  await execFileAsync("openssl", args, { cwd });
}

/**
 * Generates a throwaway PKI for one test control plane: a CA, the API server's serving
 * certificate (loopback plus any extra IPs, e.g. the lab's relay address), an admin client
 * certificate in system:masters, kube-proxy's client certificate, and the service-account signing key pair. EC keys keep it fast.
 */
export async function generateCerts(dir: string, extraIps: string[] = []): Promise<ControlPlaneCerts> {
  const p = (name: string) => join(dir, name);
  const ecKey = (out: string) =>
    openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", out], dir);

  await ecKey("ca.key");
  await openssl(
    [
      "req",
      "-x509",
      "-new",
      "-key",
      "ca.key",
      "-subj",
      "/CN=floatip-test-ca",
      "-days",
      "2",
      "-out",
      "ca.crt",
    ],
    dir,
  );

  const ips = ["127.0.0.1", "192.0.2.1", ...extraIps];
  const dns = ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"];
  const san = [...ips.map((ip) => `IP:${ip}`), ...dns.map((d) => `DNS:${d}`)].join(",");
  await writeFile(
    p("serving.ext"),
    `subjectAltName=${san}\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n`,
  );
  await writeFile(
    p("client.ext"),
    "extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n",
  );

  const issue = async (name: string, subject: string, ext: string) => {
    await ecKey(`${name}.key`);
    await openssl(["req", "-new", "-key", `${name}.key`, "-subj", subject, "-out", `${name}.csr`], dir);
    await openssl(
      [
        "x509",
        "-req",
        "-in",
        `${name}.csr`,
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        ext,
        "-out",
        `${name}.crt`,
      ],
      dir,
    );
  };
  await issue("serving", "/CN=kube-apiserver", "serving.ext");
  await issue("admin", "/O=system:masters/CN=floatip-admin", "client.ext");
  await issue("kube-proxy", "/CN=system:kube-proxy", "client.ext");

  await openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "sa.key"], dir);
  await openssl(["pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub"], dir);

  return {
    caCert: p("ca.crt"),
    caKey: p("ca.key"),
    servingCert: p("serving.crt"),
    servingKey: p("serving.key"),
    adminCert: p("admin.crt"),
    adminKey: p("admin.key"),
    kubeProxyCert: p("kube-proxy.crt"),
    kubeProxyKey: p("kube-proxy.key"),
    serviceAccountKey: p("sa.key"),
    serviceAccountPub: p("sa.pub"),
  };
}

export async function readPem(path: string): Promise<string> {
  return readFile(path, "utf8");
}
