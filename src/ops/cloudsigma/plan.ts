import { diffJson, type DiffEntry } from "./diff.js";
import { normalizeMac } from "./nic.js";
import type { IpConf, Json, JsonObject, Server } from "./types.js";

/**
 * Fields the server schema (GET /servers/schema/, cloudsigma-docs dumps/response_server_schema)
 * marks `"readonly": true`. They describe the server rather than configure it, so they are left
 * out of the PUT body: `uuid` is in the URL (the official Go SDK also blanks it on update),
 * `resource_uri`/`owner` are references, `status`/`runtime`/`jobs` are live state.
 */
export const READ_ONLY_SERVER_FIELDS = [
  "uuid",
  "resource_uri",
  "owner",
  "status",
  "runtime",
  "jobs",
] as const;
/** Per-item read-only fields: `nics[].runtime` (traffic, dynamic IP) and `drives[].runtime` (I/O). */
export const READ_ONLY_ITEM_FIELDS = { nics: ["runtime"], drives: ["runtime"] } as const;

export class PlanError extends Error {
  override name = "PlanError";
}

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/** The server definition as it may be sent back in a PUT: everything except read-only fields. */
export function editableDefinition(server: Server): JsonObject {
  const def = clone(server) as unknown as JsonObject;
  for (const field of READ_ONLY_SERVER_FIELDS) delete def[field];
  for (const [list, fields] of Object.entries(READ_ONLY_ITEM_FIELDS)) {
    const items = def[list];
    if (!Array.isArray(items)) continue;
    for (const item of items) {
      if (item && typeof item === "object" && !Array.isArray(item)) for (const f of fields) delete item[f];
    }
  }
  return def;
}

export interface NicFixPlan {
  uuid: string;
  name: string;
  status?: string;
  mac: string;
  before: IpConf | null;
  /** The exact PUT /servers/{uuid}/ body. */
  body: JsonObject;
  /** What the body changes relative to the current (editable) definition. */
  diff: DiffEntry[];
}

const macsOf = (nics: Json | undefined): (string | undefined)[] =>
  Array.isArray(nics)
    ? nics.map((n) =>
        n && typeof n === "object" && !Array.isArray(n) && typeof n.mac === "string" ? n.mac : undefined,
      )
    : [];

/**
 * Builds the PUT body that switches one NIC to `{conf: "manual"}` and keeps everything else.
 * The API matches NICs by MAC, deletes NICs missing from the list and creates NICs without a MAC,
 * so the plan refuses unless every NIC keeps its MAC and position, and unless the only difference
 * from the current definition is that NIC's ip_v4_conf.
 */
export function planNicFix(server: Server, mac: string): NicFixPlan {
  const current = editableDefinition(server);
  const nics = current.nics;
  if (!Array.isArray(nics) || nics.length === 0)
    throw new PlanError(`server ${server.uuid} has no nics list`);
  const originalMacs = macsOf(server.nics as Json);
  if (originalMacs.some((m) => !m)) {
    // A NIC without a MAC would be created anew on PUT; refuse rather than guess.
    throw new PlanError(`server ${server.uuid} has a NIC without a MAC; refusing to rewrite its NIC list`);
  }
  const target = originalMacs.filter((m) => m && normalizeMac(m) === mac);
  if (target.length !== 1) {
    throw new PlanError(
      `server ${server.uuid}: expected exactly one NIC with MAC ${mac}, found ${target.length}`,
    );
  }
  const body = clone(current);
  const bodyNics = body.nics as JsonObject[];
  const nic = bodyNics.find((n) => typeof n.mac === "string" && normalizeMac(n.mac) === mac);
  if (!nic) throw new PlanError(`server ${server.uuid}: NIC ${mac} vanished while building the body`);
  // `ip` is only meaningful for static; the docs' manual example sends just the conf.
  nic.ip_v4_conf = { conf: "manual" };

  // Guards: every NIC still present in the same order, and nothing but this NIC's ip_v4_conf changed.
  const bodyMacs = macsOf(body.nics);
  if (bodyMacs.join(",") !== originalMacs.join(",")) {
    throw new PlanError(`server ${server.uuid}: the PUT body would change the NIC list; refusing`);
  }
  const diff = diffJson(current, body);
  const allowed = `nics[mac=${nic.mac as string}].ip_v4_conf`;
  const stray = diff.filter((d) => d.path !== allowed && !d.path.startsWith(`${allowed}.`));
  if (stray.length) {
    throw new PlanError(
      `server ${server.uuid}: the PUT body would also change ${stray.map((d) => d.path).join(", ")}`,
    );
  }
  const before = server.nics?.find((n) => n.mac && normalizeMac(n.mac) === mac)?.ip_v4_conf ?? null;
  return { uuid: server.uuid, name: server.name, status: server.status, mac, before, body, diff };
}

/**
 * Compares the server re-read after the PUT with the plan: the NIC must now be manual without an
 * IP, and everything the body carried must read back unchanged (a running server may silently
 * ignore NIC changes, per the docs).
 */
export function verifyNicFix(plan: NicFixPlan, after: Server): string[] {
  const problems: string[] = [];
  const nic = after.nics?.find((n) => n.mac && normalizeMac(n.mac) === plan.mac);
  if (!nic) return [`NIC ${plan.mac} is gone after the update`];
  const conf = nic.ip_v4_conf;
  if (conf?.conf !== "manual") {
    problems.push(
      `NIC ${plan.mac} is still ${JSON.stringify(conf?.conf ?? null)} after the update (expected "manual")`,
    );
  } else if (conf.ip != null) {
    problems.push(`NIC ${plan.mac} is manual but still has an IP attached`);
  }
  const got = editableDefinition(after);
  const beforeMacs = macsOf(plan.body.nics).join(",");
  if (macsOf(got.nics).join(",") !== beforeMacs) {
    problems.push(`the NIC list changed: expected MACs ${beforeMacs}, found ${macsOf(got.nics).join(",")}`);
  }
  // Compare only what we sent; the API may add fields of its own. The target NIC's conf was checked above.
  const sent = clone(plan.body);
  const readBack: JsonObject = {};
  for (const key of Object.keys(sent)) readBack[key] = got[key] ?? null;
  const norm = (def: JsonObject) => {
    for (const n of Array.isArray(def.nics) ? def.nics : []) {
      if (n && typeof n === "object" && !Array.isArray(n) && n.mac === nic.mac) delete n.ip_v4_conf;
    }
    return def;
  };
  for (const d of diffJson(norm(sent), norm(readBack))) {
    problems.push(`unexpected difference after the update at ${d.path}`);
  }
  return problems;
}

/** The body as shown to people: the VNC password is a secret too. */
export function redactForDisplay(body: JsonObject): JsonObject {
  const copy = clone(body);
  if (typeof copy.vnc_password === "string") copy.vnc_password = "<redacted>";
  return copy;
}
