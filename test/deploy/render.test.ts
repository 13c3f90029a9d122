// `floatip render`: the objects it derives from one config file, its errors, and the CLI around it.
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { afterAll, describe, expect, it } from "vitest";
import { renderBundle } from "../../src/ops/render/bundle.js";
import { parseRenderConfig, type RenderConfig } from "../../src/ops/render/config.js";
import { envoyProxy, gatewayClass } from "../../src/ops/render/envoy.js";
import { EXAMPLE_CONFIG } from "../../src/ops/render/example.js";
import { ipAddressPool, l2Advertisement } from "../../src/ops/render/metallb.js";
import { ConfigError } from "../../src/ops/render/problems.js";
import { CLI, fillGoDefaults, parseDocs, run } from "./support.js";

const config = (text: string): RenderConfig => parseRenderConfig(text, "test.yaml", "0.1.0");
const minimal = "floatingIPs: [203.0.113.50]\nenvironment: cloudsigma\n";

function problemsOf(text: string): { field: string; message: string; fix: string }[] {
  try {
    config(text);
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  throw new Error("expected a ConfigError");
}

describe("render config", () => {
  it("fills every other field with the seed's values", () => {
    const cfg = config(minimal);
    expect(cfg).toMatchObject({
      floatingIPs: [{ address: "203.0.113.50", family: "IPv4" }],
      interfaces: ["ens3"],
      loadBalancerClass: "metallb",
      namespace: "metallb-system",
      pool: "envoy-gateway-pool",
      l2Advertisement: "envoy-gateway-l2",
      envoyGateway: {
        envoyProxy: { name: "custom-proxy-config", namespace: "envoy-gateway-system" },
        gatewayClass: "eg",
        externalTrafficPolicy: "Cluster",
        logLevel: "warn",
      },
      chart: { version: "0.1.0" },
    });
  });

  it("maps kube-ovn to br-ext-cloud and lets interfaces override the environment", () => {
    expect(config("floatingIPs: [203.0.113.50]\nenvironment: kube-ovn\n").interfaces).toEqual([
      "br-ext-cloud",
    ]);
    expect(
      config("floatingIPs: [203.0.113.50]\nenvironment: cloudsigma\ninterfaces: [eth1]\n").interfaces,
    ).toEqual(["eth1"]);
  });

  it("normalizes IPv6 addresses (RFC 5952) and accepts a single string", () => {
    const cfg = config("floatingIPs: 2001:DB8:0:0::50\ninterfaces: [ens3]\n");
    expect(cfg.floatingIPs).toEqual([{ address: "2001:db8::50", family: "IPv6" }]);
  });

  it("reports every problem at once, each with its field and a fix", () => {
    const problems = problemsOf(
      [
        "floatingIPs: [203.0.113.50/32, 198.51.100.300, 203.0.113.50, 203.0.113.50]",
        "environment: aws",
        "loadBalancerClass: 'bad class'",
        "namespace: Metallb_System",
        "envoyGateway:",
        "  externalTrafficPolicy: Sometimes",
        "  envoyProxi: {}",
        "chart: { repository: 'ftp://x' }",
      ].join("\n"),
    );
    const fields = problems.map((p) => p.field);
    expect(fields).toEqual(
      expect.arrayContaining([
        "floatingIPs[0]",
        "floatingIPs[1]",
        "floatingIPs[3]",
        "environment",
        "loadBalancerClass",
        "namespace",
        "envoyGateway.externalTrafficPolicy",
        "envoyGateway.envoyProxi",
        "chart.repository",
      ]),
    );
    const by = (f: string) => problems.find((p) => p.field === f)!;
    expect(by("floatingIPs[0]").fix).toContain("/32");
    expect(by("floatingIPs[1]").message).toContain("greater than 255");
    expect(by("floatingIPs[3]").message).toContain("listed twice");
    expect(by("environment").fix).toContain("cloudsigma (ens3)");
    expect(by("envoyGateway.externalTrafficPolicy").fix).toContain("Cluster, Local");
    expect(by("envoyGateway.envoyProxi").fix).toContain("envoyProxy");
    for (const p of problems) expect(p.fix.length).toBeGreaterThan(5);
  });

  it("requires floating IPs and an interface", () => {
    const fields = problemsOf("loadBalancerClass: metallb\n").map((p) => p.field);
    expect(fields).toEqual(["floatingIPs", "environment"]);
  });

  it("rejects YAML syntax errors and non-mapping documents", () => {
    expect(problemsOf("floatingIPs: [203.0.113.50\n")[0]?.field).toBe("(yaml)");
    expect(problemsOf("- 203.0.113.50\n")[0]?.field).toBe("(document)");
    expect(problemsOf("")[0]?.message).toContain("empty");
  });

  it("accepts the --example config as it is", () => {
    const cfg = config(EXAMPLE_CONFIG);
    expect(cfg.floatingIPs[0]?.address).toBe("203.0.113.50");
    expect(cfg.interfaces).toEqual(["ens3"]);
  });
});

describe("rendered objects", () => {
  it("the pool holds exactly the floating IPs as /32 and /128, never auto-assigned (seed step 2)", () => {
    const cfg = config("floatingIPs: [203.0.113.50, 2001:db8::50]\nenvironment: cloudsigma\n");
    expect(ipAddressPool(cfg)).toMatchObject({
      apiVersion: "metallb.io/v1beta1",
      kind: "IPAddressPool",
      metadata: { name: "envoy-gateway-pool", namespace: "metallb-system" },
      spec: {
        addresses: ["203.0.113.50/32", "2001:db8::50/128"],
        autoAssign: false,
        // Pinned to Envoy Gateway's namespace: no other namespace can claim it.
        serviceAllocation: { namespaces: ["envoy-gateway-system"] },
      },
    });
  });

  it("the L2Advertisement announces the pool on the environment's interface (seed step 3)", () => {
    expect(l2Advertisement(config("floatingIPs: [203.0.113.50]\nenvironment: kube-ovn\n"))).toMatchObject({
      kind: "L2Advertisement",
      metadata: { name: "envoy-gateway-l2", namespace: "metallb-system" },
      spec: { ipAddressPools: ["envoy-gateway-pool"], interfaces: ["br-ext-cloud"] },
    });
  });

  it("the EnvoyProxy sets the class as a direct envoyService field and the IPs only in the patch (seed step 4)", () => {
    const proxy = envoyProxy(config(minimal));
    expect(proxy).toMatchObject({
      apiVersion: "gateway.envoyproxy.io/v1alpha1",
      kind: "EnvoyProxy",
      metadata: { name: "custom-proxy-config", namespace: "envoy-gateway-system" },
    });
    expect(proxy.spec).toEqual({
      logging: { level: { default: "warn" } },
      provider: {
        type: "Kubernetes",
        kubernetes: {
          envoyService: {
            externalTrafficPolicy: "Cluster",
            loadBalancerClass: "metallb",
            patch: {
              type: "StrategicMerge",
              value: {
                metadata: {
                  annotations: {
                    "metallb.io/loadBalancerIPs": "203.0.113.50",
                    "metallb.universe.tf/loadBalancerIPs": "203.0.113.50",
                  },
                },
              },
            },
          },
        },
      },
    });
  });

  it("asks Envoy Gateway for a dual-stack or IPv6 Service when the IPs need one", () => {
    const spec = (text: string) => envoyProxy(config(text)).spec as { ipFamily?: string };
    expect(spec("floatingIPs: [203.0.113.50, 2001:db8::50]\nenvironment: cloudsigma\n").ipFamily).toBe(
      "DualStack",
    );
    expect(spec("floatingIPs: [2001:db8::50]\nenvironment: cloudsigma\n").ipFamily).toBe("IPv6");
    expect(spec(minimal).ipFamily).toBeUndefined();
  });

  it("the GatewayClass points at the EnvoyProxy through parametersRef", () => {
    expect(gatewayClass(config(minimal))).toMatchObject({
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "GatewayClass",
      metadata: { name: "eg" },
      spec: {
        controllerName: "gateway.envoyproxy.io/gatewayclass-controller",
        parametersRef: {
          group: "gateway.envoyproxy.io",
          kind: "EnvoyProxy",
          name: "custom-proxy-config",
          namespace: "envoy-gateway-system",
        },
      },
    });
  });
});

describe("rendered bundle", () => {
  const bundle = renderBundle(config(minimal), "floatip.yaml");
  const file = (path: string) => {
    const f = bundle.files.find((x) => x.path === path);
    if (!f) throw new Error(`no ${path} in ${bundle.files.map((x) => x.path).join(", ")}`);
    return f.content;
  };

  it("writes the Helm values like the seed's values.yaml", () => {
    expect(parse(file("values.yaml"))).toEqual({
      loadBalancerClass: "metallb",
      image: { repository: "localhost/floatip" },
    });
  });

  it("takes the image (repository, tag or digest) and warns when it is the default nobody has", () => {
    expect(bundle.warnings.join("\n")).toContain("image.repository is the default localhost/floatip");
    const digest = `sha256:${"a".repeat(64)}`;
    const own = renderBundle(
      config(minimal + `image: { repository: registry.example.com/platform/floatip, digest: "${digest}" }\n`),
      "x",
    );
    expect(own.warnings.join("\n")).not.toContain("image.repository");
    for (const path of ["values.yaml", "cdev/floatip/values.yaml"])
      expect(parse(own.files.find((f) => f.path === path)!.content)).toEqual({
        loadBalancerClass: "metallb",
        image: { repository: "registry.example.com/platform/floatip", digest },
      });
    expect(() => config(minimal + "image: { repository: Bad/Name, tag: 'x y', digest: sha1:00 }\n")).toThrow(
      /image\.repository[\s\S]*image\.tag[\s\S]*image\.digest/,
    );
  });

  it("writes a cdev StackTemplate in the seed's style with the floatip chart", () => {
    const text = file("cdev/template.yaml");
    expect(text).toContain('config_path: {{ .variables.kubeconfig | default "~/.kube/config" }}');
    expect(text).toContain(`version: '{{ .variables.versions.floatip_helm | default "0.1.0" }}'`);
    const tpl = parse(fillGoDefaults(text)) as { kind: string; units: Record<string, unknown>[] };
    expect(tpl.kind).toBe("StackTemplate");
    expect(tpl.units.map((u) => u.name)).toEqual(["floatip", "floatip-config", "envoy-gateway-config"]);
    expect(tpl.units[0]).toMatchObject({
      type: "helm",
      source: { chart: "floatip", version: "0.1.0" },
      values: [{ file: "./floatip/values.yaml" }],
      provider_conf: { config_path: "~/.kube/config" },
      additional_options: { namespace: "metallb-system", create_namespace: true, wait: true },
    });
    expect(tpl.units[1]).toMatchObject({
      type: "kubernetes",
      depends_on: "this.floatip",
      source: "./floatip-config/",
    });
    // cdev reads every top-level *.yaml of the template dir as a template: only template.yaml there.
    const top = bundle.files.filter((f) => /^cdev\/[^/]+\.yaml$/.test(f.path)).map((f) => f.path);
    expect(top).toEqual(["cdev/template.yaml"]);
    // Unit sources are Go templates too: nothing in them may look like one.
    for (const f of bundle.files.filter(
      (x) => x.path.startsWith("cdev/") && x.path !== "cdev/template.yaml",
    )) {
      expect(f.content, f.path).not.toContain("{{");
    }
    expect(parse(file("cdev/floatip/values.yaml"))).toMatchObject({ loadBalancerClass: "metallb" });
  });

  it("adds the seed's depends_on when configured", () => {
    const b = renderBundle(config(minimal + "cdev: { dependsOn: this.label-control-plane-nodes }\n"), "x");
    const tpl = parse(fillGoDefaults(b.files.find((f) => f.path === "cdev/template.yaml")!.content)) as {
      units: { depends_on?: string }[];
    };
    expect(tpl.units[0]?.depends_on).toBe("this.label-control-plane-nodes");
  });

  it("writes a kustomize base with the four objects and a Flux HelmRelease", () => {
    expect(parse(file("kustomize/base/kustomization.yaml"))).toEqual({
      apiVersion: "kustomize.config.k8s.io/v1beta1",
      kind: "Kustomization",
      resources: ["ipaddresspool.yaml", "l2advertisement.yaml", "envoyproxy.yaml", "gatewayclass.yaml"],
    });
    const release = parseDocs(file("kustomize/flux/helmrelease.yaml"))[0];
    expect(release).toMatchObject({
      apiVersion: "helm.toolkit.fluxcd.io/v2",
      kind: "HelmRelease",
      metadata: { name: "floatip", namespace: "metallb-system" },
      spec: {
        chart: {
          spec: {
            chart: "floatip",
            version: "0.1.0",
            sourceRef: { kind: "HelmRepository", name: "floatip" },
          },
        },
        install: { crds: "CreateReplace" },
        values: { loadBalancerClass: "metallb" },
      },
    });
    expect(parseDocs(file("kustomize/flux/helmrepository.yaml"))[0]).toMatchObject({
      kind: "HelmRepository",
      spec: { type: "oci", url: "oci://registry.example.com/charts" },
    });
    expect(parseDocs(file("kustomize/flux/namespace.yaml"))[0]?.metadata.labels).toMatchObject({
      "pod-security.kubernetes.io/enforce": "privileged",
    });
  });

  it("warns about the placeholder chart repository and about Local traffic policy", () => {
    expect(bundle.warnings.join("\n")).toContain("chart.repository is the placeholder");
    const local = renderBundle(
      config(
        minimal +
          "envoyGateway: { externalTrafficPolicy: Local }\nchart: { repository: https://charts.example.com }\n" +
          "image: { repository: registry.example.com/floatip, tag: 0.1.0 }\n",
      ),
      "x",
    );
    expect(local.warnings).toHaveLength(1);
    expect(local.warnings[0]).toContain("Local");
    const repo = parseDocs(
      local.files.find((f) => f.path === "kustomize/flux/helmrepository.yaml")!.content,
    )[0];
    expect(repo?.spec).not.toHaveProperty("type");
  });
});

describe("floatip render (CLI)", () => {
  const dir = mkdtempSync(join(tmpdir(), "floatip-render-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const floatip = (args: string[]) => run(process.execPath, [...CLI, "render", ...args], { cwd: dir });

  it("writes the files from the example config, and --dry-run then reports them unchanged", async () => {
    const example = await floatip(["--example"]);
    expect(example.code).toBe(0);
    writeFileSync(join(dir, "floatip.yaml"), example.stdout);
    const r = await floatip(["-c", "floatip.yaml", "-o", "out"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("warning: chart.repository is the placeholder");
    expect(readFileSync(join(dir, "out", "kustomize", "base", "ipaddresspool.yaml"), "utf8")).toContain(
      "203.0.113.50/32",
    );
    expect(existsSync(join(dir, "out", "cdev", "template.yaml"))).toBe(true);
    const dry = await floatip(["-c", "floatip.yaml", "-o", "out", "--dry-run"]);
    expect(dry.code).toBe(0);
    expect(
      dry.stdout
        .split("\n")
        .filter(Boolean)
        .every((l) => l.startsWith("unchanged")),
    ).toBe(true);
  });

  it("--stdout prints every file and writes nothing", async () => {
    writeFileSync(join(dir, "v6.yaml"), "floatingIPs: [2001:db8::50]\ninterfaces: [ens3]\n");
    const r = await floatip(["-c", "v6.yaml", "-o", "not-written", "--stdout"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("# ==> kustomize/base/ipaddresspool.yaml <==");
    expect(r.stdout).toContain("2001:db8::50/128");
    expect(existsSync(join(dir, "not-written"))).toBe(false);
  });

  it("exits non-zero on a bad config, naming the field and the fix", async () => {
    writeFileSync(join(dir, "bad.yaml"), "floatingIPs: [203.0.113.50/32]\nenvironment: cloudsigma\n");
    const r = await floatip(["-c", "bad.yaml", "-o", "bad-out"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("bad.yaml: 1 problem");
    expect(r.stderr).toContain("floatingIPs[0]");
    expect(r.stderr).toContain("fix: write the address alone");
    expect(existsSync(join(dir, "bad-out"))).toBe(false);
  });

  it("explains a missing config file", async () => {
    const r = await floatip(["-c", "nope.yaml"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("floatip render --example > nope.yaml");
  });
});
