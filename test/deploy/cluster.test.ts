// The chart and everything `floatip render` writes, against a real kube-apiserver: the seed's
// step 1 with the real helm CLI, server-side dry-run of every rendered object (CRDs included),
// and the seed's own pool/L2Advertisement manifests.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderBundle } from "../../src/ops/render/bundle.js";
import { parseRenderConfig } from "../../src/ops/render/config.js";
import { installCrds, kubectl } from "../../testenv/kubectl.js";
import { startTestCluster, type TestCluster } from "../support/cluster.js";
import {
  CHART,
  NS,
  ROOT,
  THIRD_PARTY_CRDS,
  fillGoDefaults,
  find,
  firstContainer,
  helm,
  parseDocs,
  run,
  type K8sObject,
} from "./support.js";

const SEED = join(ROOT, "..", "shared", "seed", "deploy-metallb-ha-for-envoy-gateway.txt");
const FLOATING_IP = "203.0.113.50";

let cluster: TestCluster;
let helmBin: string;
const work = mkdtempSync(join(tmpdir(), "floatip-deploy-"));

/** `kubectl apply --dry-run=server`: the API server validates (schema, CEL, admission) and stores nothing. Returns kind/name per object. */
async function dryRun(yaml: string): Promise<string[]> {
  const out = await kubectl(cluster.cp, ["apply", "--dry-run=server", "-f", "-", "-o", "name"], yaml);
  return out.split("\n").filter(Boolean);
}

async function getJson<T = K8sObject>(args: string[]): Promise<T> {
  return JSON.parse(await kubectl(cluster.cp, ["get", ...args, "-o", "json"])) as T;
}

function writeBundle(configText: string, dir: string): void {
  const cfg = parseRenderConfig(configText, "test.yaml", "0.1.0");
  for (const f of renderBundle(cfg, "test.yaml").files) {
    mkdirSync(join(dir, dirname(f.path)), { recursive: true });
    writeFileSync(join(dir, f.path), f.content);
  }
}

beforeAll(async () => {
  cluster = await startTestCluster();
  helmBin = cluster.cp.binaries.helm;
});

afterAll(async () => {
  await cluster?.cp.stop();
  rmSync(work, { recursive: true, force: true });
});

describe("the chart on a real API server", () => {
  it("ships CRDs that a fresh API server accepts (server-side dry-run)", async () => {
    const crds = readFileSync(join(CHART, "crds", "metallb.io_ipaddresspools.yaml"), "utf8");
    expect(await dryRun(crds)).toEqual([
      "customresourcedefinition.apiextensions.k8s.io/ipaddresspools.metallb.io",
    ]);
    for (const f of ["metallb.io_l2advertisements.yaml", "metallb.io_servicel2statuses.yaml"]) {
      expect(await dryRun(readFileSync(join(CHART, "crds", f), "utf8"))).toHaveLength(1);
    }
  });

  it("installs exactly as the seed's step 1 (helm install ... --create-namespace --set loadBalancerClass=metallb)", async () => {
    // The seed's command with the local chart, plus --kubeconfig; no --wait: nothing runs pods here.
    const out = await helm(
      helmBin,
      [
        "install",
        "floatip",
        "deploy/chart",
        "--namespace",
        NS,
        "--create-namespace",
        "--set",
        "loadBalancerClass=metallb",
      ],
      cluster.cp,
    );
    expect(out).toContain("STATUS: deployed");
    const crds = await kubectl(cluster.cp, ["get", "crd", "-o", "name"]);
    for (const name of ["ipaddresspools", "l2advertisements", "servicel2statuses"]) {
      expect(crds).toContain(`customresourcedefinition.apiextensions.k8s.io/${name}.metallb.io`);
    }
  });

  it("the installed controller Deployment and speaker DaemonSet both carry --lb-class=metallb", async () => {
    const deploy = await getJson(["deployment", "floatip-controller", "-n", NS]);
    const ds = await getJson(["daemonset", "floatip-speaker", "-n", NS]);
    expect(firstContainer(deploy).args).toContain("--lb-class=metallb");
    expect(firstContainer(ds).args).toContain("--lb-class=metallb");
  });

  it("finds the speaker with the seed's label selector", async () => {
    const out = await kubectl(cluster.cp, [
      "get",
      "daemonset,deployment",
      "-n",
      NS,
      "-l",
      "app.kubernetes.io/component=speaker",
      "-o",
      "name",
    ]);
    expect(out.trim()).toBe("daemonset.apps/floatip-speaker");
  });

  it("keeps the generated heartbeat key, and a rotation's second key, across helm upgrade", async () => {
    const data = async () =>
      (
        await getJson<{ data: { key: string; acceptKey?: string } }>([
          "secret",
          "floatip-heartbeat",
          "-n",
          NS,
        ])
      ).data;
    const before = (await data()).key;
    expect(Buffer.from(before, "base64").toString()).toMatch(/^[A-Za-z0-9]{64}$/);
    // A rotation under way (deploy/README.md): its first step added acceptKey.
    const accept = Buffer.from("n".repeat(64)).toString("base64");
    await kubectl(cluster.cp, [
      "-n",
      NS,
      "patch",
      "secret",
      "floatip-heartbeat",
      "-p",
      JSON.stringify({ data: { acceptKey: accept } }),
    ]);
    await helm(
      helmBin,
      ["upgrade", "floatip", "deploy/chart", "--namespace", NS, "--reuse-values"],
      cluster.cp,
    );
    expect(await data()).toEqual({ key: before, acceptKey: accept });
  });

  it("a release without loadBalancerClass gives neither component a class flag", async () => {
    await helm(
      helmBin,
      ["install", "noclass", CHART, "--namespace", "floatip-noclass", "--create-namespace"],
      cluster.cp,
    );
    try {
      for (const [kind, name] of [
        ["deployment", "noclass-floatip-controller"],
        ["daemonset", "noclass-floatip-speaker"],
      ] as const) {
        const args = firstContainer(await getJson([kind, name, "-n", "floatip-noclass"])).args ?? [];
        expect(args.filter((a) => a.startsWith("--lb-class"))).toEqual([]);
      }
    } finally {
      await helm(helmBin, ["uninstall", "noclass", "--namespace", "floatip-noclass"], cluster.cp);
    }
  });

  it("every rendering of the chart passes server-side dry-run", async () => {
    const variants = [
      [],
      ["loadBalancerClass=metallb"],
      ["loadBalancerClass=example.com/floatip", "speaker.excludeCordoned=false", "speaker.nice=0"],
      ["heartbeatKey.create=false", "heartbeatKey.existingSecret=floatip-heartbeat", "controller.replicas=1"],
      [
        "pools[0].name=envoy-gateway-pool",
        `pools[0].addresses={${FLOATING_IP}/32}`,
        "pools[0].interfaces={ens3}",
      ],
      [
        "prometheus.metricsService.enabled=false",
        "speaker.priorityClassName=",
        "image.digest=sha256:" + "0".repeat(64),
      ],
    ];
    for (const sets of variants) {
      const yaml = await helm(helmBin, [
        "template",
        "floatip",
        CHART,
        "--namespace",
        NS,
        ...sets.flatMap((s) => ["--set", s]),
      ]);
      const names = await dryRun(yaml);
      expect(names.length, sets.join(" ")).toBe(parseDocs(yaml).length);
    }
  });

  it("the plain manifests (deploy/manifests/floatip.yaml) pass server-side dry-run, CRDs included", async () => {
    const yaml = readFileSync(join(ROOT, "deploy", "manifests", "floatip.yaml"), "utf8");
    const names = await dryRun(yaml);
    expect(names).toEqual(
      expect.arrayContaining([
        "namespace/metallb-system",
        "customresourcedefinition.apiextensions.k8s.io/ipaddresspools.metallb.io",
        "daemonset.apps/floatip-speaker",
        "deployment.apps/floatip-controller",
      ]),
    );
    expect(names).toHaveLength(parseDocs(yaml).length);
    for (const w of parseDocs(yaml).filter((o) => o.kind === "Deployment" || o.kind === "DaemonSet")) {
      expect(firstContainer(w).args).toContain("--lb-class=metallb");
    }
  });
});

// The seed's steps 2 and 3 as published, indentation restored: the seed file is a text export of
// the runbook that lost leading whitespace. The test checks every line against the seed.
const SEED_POOL = `apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata:
  name: envoy-gateway-pool
  namespace: metallb-system
spec:
  addresses:
    - X.X.X.X/32 # Replace with your floating IP
  autoAssign: false
`;
const SEED_L2 = `apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata:
  name: envoy-gateway-l2
  namespace: metallb-system
spec:
  ipAddressPools:
    - envoy-gateway-pool
  interfaces:
    - ens3 # Replace with your public interface name
`;

describe("the seed's pool and L2Advertisement (steps 2 and 3)", () => {
  it.skipIf(!existsSync(SEED))(
    "are the seed's text line for line (skipped when ../shared/seed is absent)",
    () => {
      const seed = readFileSync(SEED, "utf8");
      const block = (from: string, to: string) => {
        const start = seed.indexOf(from);
        expect(start, from).toBeGreaterThanOrEqual(0);
        return seed.slice(start + from.length, seed.indexOf(to, start)).trim();
      };
      const lines = (text: string) =>
        text
          .trim()
          .split("\n")
          .map((l) => l.trim());
      expect(lines(SEED_POOL)).toEqual(
        lines(block("2. Create IPAddressPool\n", "3. Create L2Advertisement")),
      );
      expect(lines(SEED_L2)).toEqual(
        lines(block("3. Create L2Advertisement\n", "Interface names by environment")),
      );
    },
  );

  it("are accepted verbatim (X.X.X.X = 203.0.113.50), and the seed's verification command lists them", async () => {
    const yaml = `${SEED_POOL}---\n${SEED_L2}`.replaceAll("X.X.X.X", FLOATING_IP);
    const applied = await kubectl(cluster.cp, ["apply", "-f", "-"], yaml);
    expect(applied).toContain("ipaddresspool.metallb.io/envoy-gateway-pool created");
    expect(applied).toContain("l2advertisement.metallb.io/envoy-gateway-l2 created");
    // kubectl get ipaddresspool,l2advertisement -n metallb-system
    const listed = await kubectl(cluster.cp, ["get", "ipaddresspool,l2advertisement", "-n", NS]);
    expect(listed).toMatch(/envoy-gateway-pool\s+false/);
    expect(listed).toContain("envoy-gateway-l2");
    expect(listed).toContain("ens3");
  });
});

describe("`floatip render` output on a real API server", () => {
  const configs = {
    cloudsigma: `floatingIPs: [${FLOATING_IP}]\nenvironment: cloudsigma\n`,
    "kube-ovn-dual-stack": `floatingIPs: [198.51.100.50, 2001:db8::50]\nenvironment: kube-ovn\nnamespace: floatip-ovn\npool: ovn-pool\nl2Advertisement: ovn-l2\nenvoyGateway: { externalTrafficPolicy: Local, gatewayClass: eg-ovn, envoyProxy: { name: ovn-proxy } }\n`,
  };
  const dirs = Object.fromEntries(
    Object.entries(configs).map(([name, text]) => {
      const dir = join(work, name);
      writeBundle(text, dir);
      return [name, dir];
    }),
  );

  beforeAll(async () => {
    for (const ns of ["envoy-gateway-system", "floatip-ovn"]) {
      await kubectl(cluster.cp, ["create", "namespace", ns]).catch(() => undefined);
    }
  });

  it("the rendered Helm values install the same flags as the seed's --set", async () => {
    const yaml = await helm(helmBin, [
      "template",
      "floatip",
      CHART,
      "--namespace",
      NS,
      "-f",
      join(dirs.cloudsigma!, "values.yaml"),
    ]);
    const objs = parseDocs(yaml);
    expect(firstContainer(find(objs, "Deployment")).args).toContain("--lb-class=metallb");
    expect(firstContainer(find(objs, "DaemonSet")).args).toContain("--lb-class=metallb");
    expect(await dryRun(yaml)).toHaveLength(objs.length);
  });

  it("the rendered IPAddressPool and L2Advertisement pass server-side dry-run", async () => {
    for (const dir of Object.values(dirs)) {
      for (const f of ["ipaddresspool.yaml", "l2advertisement.yaml"]) {
        expect(await dryRun(readFileSync(join(dir, "kustomize", "base", f), "utf8"))).toHaveLength(1);
      }
    }
  });

  it("the Flux layout builds with kustomize and its Namespace passes dry-run (Flux CRDs are not available here)", async () => {
    const built = await kubectl(cluster.cp, ["kustomize", join(dirs.cloudsigma!, "kustomize", "flux")]);
    const objs = parseDocs(built);
    expect(objs.map((o) => o.kind).sort()).toEqual(["HelmRelease", "HelmRepository", "Namespace"]);
    expect(await dryRun(built.split(/^---$/m).find((d) => d.includes("kind: Namespace"))!)).toEqual([
      "namespace/metallb-system",
    ]);
  });

  describe.skipIf(!existsSync(THIRD_PARTY_CRDS))(
    "with the Envoy Gateway and Gateway API CRDs (skipped when ../shared/third-party is absent)",
    () => {
      beforeAll(async () => {
        await installCrds(cluster.cp, [
          join(THIRD_PARTY_CRDS, "gateway-api-standard.yaml"),
          join(THIRD_PARTY_CRDS, "gateway.envoyproxy.io_envoyproxies.yaml"),
        ]);
      });

      it("the kustomize base (pool, L2Advertisement, EnvoyProxy, GatewayClass) passes server-side dry-run", async () => {
        for (const [name, dir] of Object.entries(dirs)) {
          const built = await kubectl(cluster.cp, ["kustomize", join(dir, "kustomize", "base")]);
          const names = await dryRun(built);
          expect(names.map((n) => n.split("/")[0]).sort(), name).toEqual([
            "envoyproxy.gateway.envoyproxy.io",
            "gatewayclass.gateway.networking.k8s.io",
            "ipaddresspool.metallb.io",
            "l2advertisement.metallb.io",
          ]);
        }
      });

      it("the cdev unit sources pass server-side dry-run, and the StackTemplate is valid YAML once rendered", async () => {
        const dir = join(dirs.cloudsigma!, "cdev");
        for (const f of [
          "floatip-config/ipaddresspool.yaml",
          "floatip-config/l2advertisement.yaml",
          "envoy-gateway/envoyproxy.yaml",
          "envoy-gateway/gatewayclass.yaml",
        ]) {
          expect(await dryRun(fillGoDefaults(readFileSync(join(dir, f), "utf8"))), f).toHaveLength(1);
        }
        const tpl = parseDocs(fillGoDefaults(readFileSync(join(dir, "template.yaml"), "utf8")));
        expect(tpl).toHaveLength(1);
      });

      it("the API server rejects what the renderer must never emit (the schema is really enforced)", async () => {
        const proxy = readFileSync(join(dirs.cloudsigma!, "kustomize", "base", "envoyproxy.yaml"), "utf8");
        const broken = proxy.replace("externalTrafficPolicy: Cluster", "externalTrafficPolicy: Sometimes");
        const r = await run(
          cluster.cp.binaries.kubectl,
          ["--kubeconfig", cluster.cp.kubeconfigPath, "apply", "--dry-run=server", "-f", "-"],
          {
            input: broken,
          },
        );
        expect(r.code).not.toBe(0);
        expect(r.stderr).toContain("externalTrafficPolicy");
      });
    },
  );
});
