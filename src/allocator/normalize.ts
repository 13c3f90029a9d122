// Validates an AssignRequest and reduces it to what allocation decisions need.

import { formatIP, parseIPDetailed, type ParsedIP } from "../api/ip.js";
import { listSome } from "../common/text.js";
import type { PortProtocol } from "../api/service.js";
import type { IPFamily } from "../api/types.js";
import type { AssignRequest } from "./types.js";

/** single: one family. require: every family. prefer: both if one pool can, else one (primary first). */
export type FamilyMode = "single" | "require" | "prefer";

export interface NormalizedRequest {
  key: string;
  namespace: string;
  name: string;
  labels: Readonly<Record<string, string>>;
  namespaceLabels: Readonly<Record<string, string>> | undefined;
  /** Families to allocate, primary first. */
  families: IPFamily[];
  mode: FamilyMode;
  /** Parsed, one per family, in `families` order. */
  requested: ParsedIP[] | undefined;
  pool: string | undefined;
  sharingKey: string | undefined;
  ports: PortProtocol[];
  backendKey: string;
}

export type NormalizeResult = { ok: true; req: NormalizedRequest } | { ok: false; message: string };

const FAMILIES: readonly IPFamily[] = ["IPv4", "IPv6"];

export function normalizeRequest(r: AssignRequest): NormalizeResult {
  const fail = (message: string): NormalizeResult => ({ ok: false, message });
  if (!r.service?.namespace || !r.service.name)
    return fail("the Service reference needs a namespace and a name");

  const declared: IPFamily[] = [];
  for (const f of r.ipFamilies ?? []) {
    if (!FAMILIES.includes(f))
      return fail(`spec.ipFamilies contains ${JSON.stringify(f)}; use IPv4 and/or IPv6`);
    if (!declared.includes(f)) declared.push(f);
  }
  if (declared.length === 0) return fail("spec.ipFamilies is empty; the Service's IP family is unknown");
  const policy = r.ipFamilyPolicy ?? "SingleStack";
  let families: IPFamily[];
  let mode: FamilyMode;
  if (policy === "SingleStack") {
    families = [declared[0]!];
    mode = "single";
  } else if (policy === "RequireDualStack") {
    if (declared.length < 2) {
      return fail("ipFamilyPolicy RequireDualStack needs both IPv4 and IPv6 in spec.ipFamilies");
    }
    families = declared;
    mode = "require";
  } else if (policy === "PreferDualStack") {
    families = declared;
    mode = declared.length > 1 ? "prefer" : "single";
  } else {
    return fail(
      `spec.ipFamilyPolicy ${JSON.stringify(policy)} is not one of SingleStack, PreferDualStack, RequireDualStack`,
    );
  }

  let requested: ParsedIP[] | undefined;
  const texts = r.requestedIPs ?? [];
  if (texts.length > 0) {
    const parsed: ParsedIP[] = [];
    for (const t of texts) {
      const p = parseIPDetailed(t.trim());
      if (!p.ok) return fail(`requested load balancer IP is invalid: ${p.error}`);
      if (parsed.some((q) => q.family === p.ip.family)) {
        return fail(
          `more than one ${p.ip.family} address requested (${listSome(texts, ",")}); request at most one address per family`,
        );
      }
      parsed.push(p.ip);
    }
    const have = parsed.map((p) => p.family);
    if (have.length !== families.length || !families.every((f) => have.includes(f))) {
      return fail(
        `requested ${parsed.map((p) => formatIP(p.family, p.value)).join(",")} (${have.join("+")}) but the Service needs ` +
          `${families.join("+")} (spec.ipFamilies/ipFamilyPolicy); request exactly one address for each of its families`,
      );
    }
    requested = families.map((f) => parsed.find((p) => p.family === f)!);
  }

  return {
    ok: true,
    req: {
      key: `${r.service.namespace}/${r.service.name}`,
      namespace: r.service.namespace,
      name: r.service.name,
      labels: r.labels ?? {},
      namespaceLabels: r.namespaceLabels,
      families,
      mode,
      requested,
      pool: r.pool ? r.pool : undefined,
      sharingKey: r.sharingKey ? r.sharingKey : undefined,
      ports: (r.ports ?? []).map((p) => ({ port: p.port, protocol: p.protocol ?? "TCP" })),
      backendKey: r.backendKey ?? "",
    },
  };
}
