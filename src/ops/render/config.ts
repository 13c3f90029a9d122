// The one config file `floatip render` reads: the floating IPs, where to announce them, and the
// names the seed uses. Every default is the seed's value, so a minimal file is two lines.
import { readImage, type ImageRef } from "./image.js";
import { parseDocument } from "yaml";
import { formatIP, parseIPDetailed } from "../../api/ip.js";
import { validateLabelKey } from "../../api/labelselector.js";
import type { IPFamily } from "../../api/types.js";
import { ConfigError, type Problem } from "./problems.js";
import { Reader } from "./reader.js";

/** Where the nodes' public L2 segment is, and the interface that faces it there. */
export const ENVIRONMENTS = {
  /** CloudSigma: the public NIC itself (in "manual" IP mode, see the seed). */
  cloudsigma: "ens3",
  /** Kube-OVN: the OVS provider bridge of the external network. */
  "kube-ovn": "br-ext-cloud",
} as const;
export type Environment = keyof typeof ENVIRONMENTS;

export type ExternalTrafficPolicy = "Cluster" | "Local";

export interface FloatingIP {
  address: string;
  family: IPFamily;
}

export interface RenderConfig {
  floatingIPs: FloatingIP[];
  interfaces: string[];
  environment?: Environment;
  loadBalancerClass: string;
  /** floatip's namespace: the chart release, the pool and the L2Advertisement. */
  namespace: string;
  pool: string;
  l2Advertisement: string;
  envoyGateway: {
    envoyProxy: { name: string; namespace: string };
    gatewayClass: string;
    controllerName: string;
    externalTrafficPolicy: ExternalTrafficPolicy;
    logLevel: string;
  };
  chart: { repository: string; version: string };
  image: ImageRef;
  cdev: { dependsOn?: string };
}

/** Placeholder chart repository: no public one exists yet, and the outputs say so. */
export const PLACEHOLDER_REPOSITORY = "oci://registry.example.com/charts";

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
// Linux IFNAMSIZ is 16 including the NUL; no slash, colon or whitespace.
const INTERFACE = /^[A-Za-z0-9_.-]{1,15}$/;
const SEMVER = /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/;
const LOG_LEVELS = ["debug", "info", "warn", "error"];

/** Parses and validates the config text; throws ConfigError listing every problem. */
export function parseRenderConfig(text: string, source: string, chartVersion: string): RenderConfig {
  const problems: Problem[] = [];
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      source,
      doc.errors.map((e) => ({
        field: "(yaml)",
        message: e.message.split("\n")[0] ?? e.message,
        fix: "fix the YAML syntax at that line",
      })),
    );
  }
  const cfg = readConfig(Reader.root(doc.toJS(), problems), chartVersion);
  if (problems.length > 0) throw new ConfigError(source, problems);
  return cfg;
}

function readConfig(r: Reader, chartVersion: string): RenderConfig {
  r.rejectUnknown([
    "floatingIPs",
    "environment",
    "interfaces",
    "loadBalancerClass",
    "namespace",
    "pool",
    "l2Advertisement",
    "envoyGateway",
    "chart",
    "image",
    "cdev",
  ]);
  const floatingIPs = readFloatingIPs(r); // first: problems are listed in the file's usual order
  const { interfaces, environment } = readInterfaces(r);
  const eg = r.child("envoyGateway");
  eg.rejectUnknown(["envoyProxy", "gatewayClass", "controllerName", "externalTrafficPolicy", "logLevel"]);
  const proxy = eg.child("envoyProxy");
  proxy.rejectUnknown(["name", "namespace"]);
  const chart = r.child("chart");
  chart.rejectUnknown(["repository", "version"]);
  const cdev = r.child("cdev");
  cdev.rejectUnknown(["dependsOn"]);

  return {
    floatingIPs,
    interfaces,
    environment,
    loadBalancerClass: readClass(r),
    namespace: name(r, "namespace", "metallb-system", DNS1123_LABEL),
    pool: name(r, "pool", "envoy-gateway-pool", DNS1123_SUBDOMAIN),
    l2Advertisement: name(r, "l2Advertisement", "envoy-gateway-l2", DNS1123_SUBDOMAIN),
    envoyGateway: {
      envoyProxy: {
        name: name(proxy, "name", "custom-proxy-config", DNS1123_SUBDOMAIN),
        namespace: name(proxy, "namespace", "envoy-gateway-system", DNS1123_LABEL),
      },
      gatewayClass: name(eg, "gatewayClass", "eg", DNS1123_SUBDOMAIN),
      controllerName: readControllerName(eg),
      externalTrafficPolicy: oneOf(eg, "externalTrafficPolicy", "Cluster", ["Cluster", "Local"] as const),
      logLevel: oneOf(eg, "logLevel", "warn", LOG_LEVELS),
    },
    chart: {
      repository: readRepository(chart),
      version: matching(chart, "version", chartVersion, SEMVER, "a chart version such as 0.1.0"),
    },
    image: readImage(r.child("image")),
    cdev: { dependsOn: readDependsOn(cdev) },
  };
}

function readFloatingIPs(r: Reader): FloatingIP[] {
  const fix = "list the floating IPs as plain addresses, e.g. `floatingIPs: [203.0.113.50]`";
  const list = r.strings("floatingIPs", fix);
  if (!list || list.length === 0) {
    r.problem("floatingIPs", "at least one floating IP is required", fix);
    return [];
  }
  const seen = new Set<string>();
  const out: FloatingIP[] = [];
  list.forEach((text, i) => {
    const field = `floatingIPs[${i}]`;
    const trimmed = text.trim();
    if (trimmed.includes("/")) {
      r.problem(
        field,
        `${JSON.stringify(text)} has a prefix length`,
        "write the address alone; the pool gets /32 (IPv4) or /128 (IPv6) per address",
      );
      return;
    }
    const parsed = parseIPDetailed(trimmed);
    if (!parsed.ok) {
      r.problem(field, parsed.error, "write an IPv4 (203.0.113.50) or IPv6 (2001:db8::50) address");
      return;
    }
    const address = formatIP(parsed.ip.family, parsed.ip.value);
    if (seen.has(address)) {
      r.problem(field, `${address} is listed twice`, "remove the duplicate");
      return;
    }
    seen.add(address);
    out.push({ address, family: parsed.ip.family });
  });
  return out;
}

function readInterfaces(r: Reader): { interfaces: string[]; environment?: Environment } {
  const envNames = Object.keys(ENVIRONMENTS) as Environment[];
  let environment: Environment | undefined;
  if (r.has("environment")) {
    const env = r.string("environment", "", `use one of ${envNames.join(", ")}`);
    if ((envNames as string[]).includes(env)) environment = env as Environment;
    else {
      r.problem(
        "environment",
        `unknown environment ${JSON.stringify(env)}`,
        `use ${envNames.map((e) => `${e} (${ENVIRONMENTS[e]})`).join(" or ")}, or set \`interfaces\` instead`,
      );
    }
  }
  const fix = "name the public interface(s), e.g. `interfaces: [ens3]`";
  const given = r.strings("interfaces", fix);
  given?.forEach((name, i) => {
    if (!INTERFACE.test(name)) {
      r.problem(
        `interfaces[${i}]`,
        `${JSON.stringify(name)} is not a Linux interface name`,
        "use 1-15 characters of letters, digits, '.', '_' and '-'",
      );
    }
  });
  if (given && given.length > 0) return { interfaces: given, environment };
  if (environment) return { interfaces: [ENVIRONMENTS[environment]], environment };
  if (!r.has("environment")) {
    r.problem(
      "environment",
      "no interface to announce on",
      `set \`environment: cloudsigma\` (ens3), \`environment: kube-ovn\` (br-ext-cloud), or \`interfaces: [<nic>]\``,
    );
  }
  return { interfaces: [], environment };
}

function readClass(r: Reader): string {
  const value = r.string("loadBalancerClass", "metallb", "e.g. `loadBalancerClass: metallb`");
  const fix =
    "use a qualified name such as `metallb` or `example.com/floatip`; it must match the EnvoyProxy's class";
  if (value === "") {
    r.problem("loadBalancerClass", "must not be empty: the seed isolates floatip by class", fix);
  } else if (validateLabelKey(value)) {
    r.problem("loadBalancerClass", `${JSON.stringify(value)} is not a valid class name`, fix);
  }
  return value;
}

function readControllerName(r: Reader): string {
  const fallback = "gateway.envoyproxy.io/gatewayclass-controller";
  const value = r.string("controllerName", fallback, `e.g. ${fallback}`);
  if (!/^[a-z0-9.-]+\/[A-Za-z0-9/._-]+$/.test(value)) {
    r.problem(
      r.field("controllerName"),
      `${JSON.stringify(value)} is not a domain-prefixed path`,
      `use Envoy Gateway's ${fallback} unless its controller was configured otherwise`,
    );
  }
  return value;
}

function readRepository(r: Reader): string {
  const value = r.string("repository", PLACEHOLDER_REPOSITORY, "an https:// or oci:// URL");
  if (!/^(https|oci):\/\/[^\s"'{}]+$/.test(value)) {
    r.problem(
      r.field("repository"),
      `${JSON.stringify(value)} is not an https:// or oci:// chart repository URL`,
      "publish the chart (`helm package deploy/chart && helm push ...`) and give its repository URL",
    );
  }
  return value;
}

function readDependsOn(r: Reader): string | undefined {
  if (!r.has("dependsOn")) return undefined;
  const value = r.string("dependsOn", "", "e.g. `this.label-control-plane-nodes`");
  if (!/^[a-z0-9_-]+\.[a-z0-9_.-]+$/.test(value)) {
    r.problem(
      r.field("dependsOn"),
      `${JSON.stringify(value)} is not a cdev unit reference`,
      "use `this.<unit>` (same stack) or `<stack>.<unit>`, e.g. `this.label-control-plane-nodes`",
    );
  }
  return value;
}

function name(r: Reader, key: string, fallback: string, re: RegExp): string {
  const value = r.string(key, fallback, "a Kubernetes name");
  if (!re.test(value)) {
    r.problem(
      r.field(key),
      `${JSON.stringify(value)} is not a valid Kubernetes name`,
      "use lowercase letters, digits and '-' (starting and ending alphanumeric)",
    );
  }
  return value;
}

function oneOf<T extends string>(r: Reader, key: string, fallback: T, allowed: readonly T[]): T {
  const value = r.string(key, fallback, `one of ${allowed.join(", ")}`);
  if ((allowed as readonly string[]).includes(value)) return value as T;
  r.problem(r.field(key), `${JSON.stringify(value)} is not allowed`, `use one of ${allowed.join(", ")}`);
  return fallback;
}

function matching(r: Reader, key: string, fallback: string, re: RegExp, what: string): string {
  const value = r.string(key, fallback, what);
  if (!re.test(value)) r.problem(r.field(key), `${JSON.stringify(value)} is not ${what}`, `use ${what}`);
  return value;
}
