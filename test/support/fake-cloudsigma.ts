/**
 * An in-memory CloudSigma API 2.0 on 127.0.0.1 for tests, following the documented requests and
 * responses (cloudsigma-docs: servers, network interfaces, networking/IPs, pagination, errors):
 *
 * - HTTP Basic auth on every request (401 otherwise).
 * - GET /servers/, /servers/detail/, /ips/, /ips/detail/ with `limit`/`offset` (default limit 20,
 *   `limit=0` = all) and `{meta: {limit, offset, total_count}, objects}`.
 * - GET/PUT /servers/{uuid}/, GET /ips/{ip}/ (404 `notexist` for unknown ones).
 * - PUT applies the documented NIC rules: NICs are matched by `mac`, a NIC missing from the list is
 *   deleted, a NIC without `mac` is created, an unknown `mac` is an error; `ip` only with `static`
 *   (and must be an owned, unattached IP); a NIC cannot have both `vlan` and `ip_v4_conf`.
 * - Running servers: `runningNicChanges` = "accept" (what kube-dc's CCM observed), "reject"
 *   (403, error body) or "ignore" (the docs: only name/meta/tags are applied, 200).
 * - Errors use the documented body `[{error_type, error_message, error_point}]`.
 * - `failNext` injects 5xx/429/403/... answers (optionally with Retry-After) or hangs.
 * - Every request is recorded, so tests can assert the exact PUT bodies.
 */
import { randomBytes } from "node:crypto";
import {
  createServer,
  type IncomingMessage,
  type Server as HttpServer,
  type ServerResponse,
} from "node:http";
import type { AddressInfo, Socket } from "node:net";

type Obj = Record<string, unknown>;

export interface FakeServer extends Obj {
  uuid: string;
  name: string;
  status: string;
  nics: Obj[];
}

export interface FakeIp extends Obj {
  uuid: string;
  subscription: { id: number; resource_uri: string } | null;
  server: { uuid: string; resource_uri: string } | null;
}

export interface RecordedRequest {
  method: string;
  /** Path below the API root, e.g. `/servers/detail/`. */
  path: string;
  query: Record<string, string>;
  body?: unknown;
  authorization?: string;
}

export interface FailureRule {
  status?: number;
  /** How many matching requests fail (default 1). */
  times?: number;
  method?: string;
  /** Matches when the API path starts with this. */
  path?: string;
  retryAfter?: string;
  errorType?: string;
  message?: string;
  /** Never answer (the socket is closed by stop()). */
  hang?: boolean;
}

export interface FakeOptions {
  username?: string;
  password?: string;
  servers?: FakeServer[];
  ips?: FakeIp[];
  runningNicChanges?: "accept" | "reject" | "ignore";
  /** Stricter than the real API (which ignores them): 400 when a PUT carries read-only fields. */
  rejectReadOnlyFields?: boolean;
  defaultLimit?: number;
}

export const FAKE_OWNER = { uuid: "00000000-0000-4000-8000-0000000000aa", resource_uri: "" };
FAKE_OWNER.resource_uri = `/api/2.0/user/${FAKE_OWNER.uuid}/`;

const API = "/api/2.0";
const READ_ONLY = ["uuid", "resource_uri", "owner", "status", "runtime", "jobs"];
const RUNNING_EDITABLE = new Set(["name", "meta", "tags"]);
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

class ApiFault extends Error {
  constructor(
    readonly status: number,
    readonly errorType: string,
    message: string,
    readonly point: string | null = null,
  ) {
    super(message);
  }
}

export class FakeCloudSigma {
  readonly servers = new Map<string, FakeServer>();
  readonly ips = new Map<string, FakeIp>();
  readonly requests: RecordedRequest[] = [];
  runningNicChanges: "accept" | "reject" | "ignore";
  rejectReadOnlyFields: boolean;
  private readonly failures: FailureRule[] = [];
  private readonly http: HttpServer;
  private readonly sockets = new Set<Socket>();
  private readonly username: string;
  private readonly password: string;
  private readonly defaultLimit: number;
  private port = 0;

  constructor(options: FakeOptions = {}) {
    this.username = options.username ?? "user@example.com";
    this.password = options.password ?? "fake-password";
    this.runningNicChanges = options.runningNicChanges ?? "accept";
    this.rejectReadOnlyFields = options.rejectReadOnlyFields ?? false;
    this.defaultLimit = options.defaultLimit ?? 20;
    for (const s of options.servers ?? []) this.servers.set(s.uuid, clone(s));
    for (const ip of options.ips ?? []) this.ips.set(ip.uuid, clone(ip));
    this.http = createServer((req, res) => void this.handle(req, res));
    this.http.on("connection", (s) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
  }

  /** Base URL ending in /api/2.0/. */
  get url(): string {
    return `http://127.0.0.1:${this.port}${API}/`;
  }

  get credentials() {
    return { username: this.username, password: this.password };
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.http.listen(0, "127.0.0.1", resolve));
    this.port = (this.http.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  failNext(rule: FailureRule): void {
    this.failures.push({ times: 1, status: 500, ...rule });
  }

  requestsFor(method: string, pathPrefix = ""): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method && r.path.startsWith(pathPrefix));
  }

  server(uuid: string): FakeServer {
    const s = this.servers.get(uuid);
    if (!s) throw new Error(`fake: no server ${uuid}`);
    return clone(s);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://fake");
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = text;
    }
    const method = req.method ?? "GET";
    const path = url.pathname.startsWith(API) ? url.pathname.slice(API.length) : url.pathname;
    this.requests.push({
      method,
      path,
      query: Object.fromEntries(url.searchParams),
      body,
      authorization: req.headers.authorization,
    });

    const rule = this.failures.find(
      (f) => (f.times ?? 0) > 0 && (!f.method || f.method === method) && (!f.path || path.startsWith(f.path)),
    );
    if (rule) {
      rule.times = (rule.times ?? 1) - 1;
      if (rule.hang) return;
      const headers: Record<string, string> = rule.retryAfter ? { "Retry-After": rule.retryAfter } : {};
      return this.send(
        res,
        rule.status ?? 500,
        this.errorBody(rule.errorType ?? "backend", rule.message ?? "injected failure"),
        headers,
      );
    }
    if (!this.authorized(req.headers.authorization)) {
      return this.send(
        res,
        401,
        this.errorBody("permission", "Authentication credentials were not provided or are invalid."),
        {
          "WWW-Authenticate": 'Basic realm="users"',
        },
      );
    }
    try {
      const [status, payload] = this.route(method, path, url.searchParams, body);
      this.send(res, status, payload);
    } catch (err) {
      if (err instanceof ApiFault)
        return this.send(res, err.status, this.errorBody(err.errorType, err.message, err.point));
      this.send(res, 500, this.errorBody("backend", String(err)));
    }
  }

  private authorized(header: string | undefined): boolean {
    if (!header?.startsWith("Basic ")) return false;
    const decoded = Buffer.from(header.slice(6), "base64").toString("utf8");
    return decoded === `${this.username}:${this.password}`;
  }

  private errorBody(type: string, message: string, point: string | null = null) {
    return [{ error_type: type, error_message: message, error_point: point }];
  }

  private send(
    res: ServerResponse,
    status: number,
    payload: unknown,
    headers: Record<string, string> = {},
  ): void {
    res.writeHead(status, { "Content-Type": "application/json; charset=utf-8", ...headers });
    res.end(JSON.stringify(payload));
  }

  private route(method: string, path: string, query: URLSearchParams, body: unknown): [number, unknown] {
    const parts = path.split("/").filter(Boolean);
    const [resource, id] = parts;
    if (method === "GET" && resource === "servers" && parts.length === 1) {
      return [
        200,
        this.page(
          [...this.servers.values()].map((s) => this.brief(s)),
          query,
        ),
      ];
    }
    if (method === "GET" && resource === "servers" && id === "detail" && parts.length === 2) {
      return [
        200,
        this.page(
          [...this.servers.values()].map((s) => this.full(s)),
          query,
        ),
      ];
    }
    if (resource === "servers" && id && parts.length === 2) {
      const server = this.servers.get(id);
      if (!server) throw new ApiFault(404, "notexist", `Object with uuid ${id} does not exist`);
      if (method === "GET") return [200, this.full(server)];
      if (method === "PUT") return [200, this.full(this.update(server, body))];
    }
    if (method === "GET" && resource === "ips" && parts.length === 1) {
      return [
        200,
        this.page(
          [...this.ips.values()].map((ip) => ({
            uuid: ip.uuid,
            resource_uri: ip.resource_uri,
            owner: ip.owner,
          })),
          query,
        ),
      ];
    }
    if (method === "GET" && resource === "ips" && id === "detail" && parts.length === 2) {
      return [200, this.page([...this.ips.values()].map(clone), query)];
    }
    if (method === "GET" && resource === "ips" && id && parts.length === 2) {
      const ip = this.ips.get(id);
      if (!ip) throw new ApiFault(404, "notexist", `Object with uuid ${id} does not exist`);
      return [200, clone(ip)];
    }
    throw new ApiFault(404, "notexist", `no route for ${method} ${path}`);
  }

  private page(objects: unknown[], query: URLSearchParams) {
    const limit = query.has("limit") ? Number(query.get("limit")) : this.defaultLimit;
    const offset = Number(query.get("offset") ?? 0);
    const slice = limit === 0 ? objects.slice(offset) : objects.slice(offset, offset + limit);
    return { meta: { limit, offset, total_count: objects.length }, objects: slice };
  }

  private brief(s: FakeServer) {
    return {
      name: s.name,
      owner: FAKE_OWNER,
      resource_uri: s.resource_uri,
      runtime: s.runtime ?? null,
      status: s.status,
      uuid: s.uuid,
    };
  }

  private full(s: FakeServer): FakeServer {
    return clone(s);
  }

  private update(server: FakeServer, body: unknown): FakeServer {
    if (!isObj(body)) throw new ApiFault(400, "validation", "Request body must be a JSON object");
    if (this.rejectReadOnlyFields) {
      const bad = READ_ONLY.filter((f) => f in body);
      for (const list of ["nics", "drives"]) {
        const items = body[list];
        if (Array.isArray(items) && items.some((i) => isObj(i) && "runtime" in i))
          bad.push(`${list}[].runtime`);
      }
      if (bad.length)
        throw new ApiFault(400, "validation", `read-only fields in request: ${bad.join(", ")}`, bad[0]);
    }
    const editable = Object.keys(body).filter((k) => !READ_ONLY.includes(k));
    if (server.status === "running" && this.runningNicChanges !== "accept") {
      const changed = editable.filter(
        (k) =>
          !RUNNING_EDITABLE.has(k) &&
          JSON.stringify(this.comparable(k, body[k])) !== JSON.stringify(this.comparable(k, server[k])),
      );
      if (changed.length && this.runningNicChanges === "reject") {
        throw new ApiFault(
          403,
          "permission",
          `Cannot change ${changed.join(", ")} of a running server. Only name, meta and tags can be changed.`,
        );
      }
      if (changed.length) {
        // Documented behaviour: other changes to a running server are ignored.
        const next = clone(server);
        for (const k of editable.filter((k) => RUNNING_EDITABLE.has(k))) next[k] = clone(body[k]);
        this.servers.set(server.uuid, next);
        return next;
      }
    }
    const next = clone(server);
    for (const k of editable) {
      if (k === "nics") next.nics = this.applyNics(server, body.nics);
      else if (k === "drives") next.drives = this.applyDrives(server, body.drives);
      else next[k] = clone(body[k]);
    }
    this.servers.set(server.uuid, next);
    return next;
  }

  /** NICs compared without runtime and with `ip` references reduced to the address. */
  private comparable(key: string, value: unknown): unknown {
    if (key !== "nics" || !Array.isArray(value)) return value;
    return value.map((n) => {
      if (!isObj(n)) return n;
      const { runtime: _runtime, ...rest } = n;
      const conf = rest.ip_v4_conf;
      if (isObj(conf) && isObj(conf.ip)) rest.ip_v4_conf = { ...conf, ip: conf.ip.uuid };
      return rest;
    });
  }

  /** Attached drives keep their read-only runtime (matched by drive uuid). */
  private applyDrives(server: FakeServer, drives: unknown): unknown {
    if (!Array.isArray(drives)) return clone(drives);
    const uuidOf = (d: unknown) => (isObj(d) && isObj(d.drive) ? d.drive.uuid : undefined);
    const old = Array.isArray(server.drives) ? (server.drives as unknown[]) : [];
    return drives.map((d) => {
      if (!isObj(d)) return clone(d);
      const prev = old.find((o) => uuidOf(o) === uuidOf(d));
      return { ...clone(d), runtime: isObj(prev) ? (prev.runtime ?? null) : null };
    });
  }

  private applyNics(server: FakeServer, nics: unknown): Obj[] {
    if (!Array.isArray(nics)) throw new ApiFault(400, "validation", "nics must be a list", "nics");
    const old = new Map(server.nics.map((n) => [n.mac as string, n]));
    const result: Obj[] = [];
    const attach: string[] = [];
    for (const raw of nics) {
      if (!isObj(raw)) throw new ApiFault(400, "validation", "each NIC must be an object", "nics");
      const nic = clone(raw);
      delete nic.runtime;
      let mac = nic.mac as string | undefined;
      if (mac === undefined || mac === null) {
        mac = `22:${[...randomBytes(5)].map((b) => b.toString(16).padStart(2, "0")).join(":")}`;
        nic.mac = mac;
      } else if (!old.has(mac)) {
        throw new ApiFault(400, "validation", `MAC ${mac} was not previously in the nics list`, "nics");
      }
      if (nic.vlan && nic.ip_v4_conf) {
        throw new ApiFault(400, "validation", "Cannot assign both Private and Public on a NIC", "nics");
      }
      const conf = nic.ip_v4_conf;
      if (isObj(conf)) {
        if (!["dhcp", "static", "manual"].includes(conf.conf as string)) {
          throw new ApiFault(
            400,
            "validation",
            `invalid ip_v4_conf.conf ${JSON.stringify(conf.conf)}`,
            "nics",
          );
        }
        const ip =
          typeof conf.ip === "string" ? conf.ip : isObj(conf.ip) ? (conf.ip.uuid as string) : undefined;
        if (conf.conf === "static") {
          const owned = ip ? this.ips.get(ip) : undefined;
          if (!owned?.subscription)
            throw new ApiFault(400, "validation", "static conf needs an owned IP", "nics");
          if (owned.server && owned.server.uuid !== server.uuid) {
            throw new ApiFault(400, "validation", `IP ${ip} is attached to another server`, "nics");
          }
          conf.ip = { resource_uri: `${API}/ips/${ip}/`, uuid: ip as string };
          attach.push(ip as string);
        } else if (ip) {
          throw new ApiFault(400, "validation", `an IP cannot be specified for conf ${conf.conf}`, "nics");
        }
      }
      nic.runtime = (old.get(mac)?.runtime as unknown) ?? null;
      result.push(nic);
    }
    for (const ip of this.ips.values()) {
      if (ip.server?.uuid === server.uuid && !attach.includes(ip.uuid)) ip.server = null;
    }
    for (const uuid of attach) {
      const ip = this.ips.get(uuid);
      if (ip) ip.server = { uuid: server.uuid, resource_uri: `${API}/servers/${server.uuid}/` };
    }
    return result;
  }
}

// ---- fixtures (documentation addresses, fake UUIDs) ----

export const fakeUuid = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, "0")}`;

export function publicNic(
  mac: string,
  conf: "dhcp" | "static" | "manual",
  ip?: string,
  runtimeIp?: string,
): Obj {
  return {
    boot_order: null,
    firewall_policy: null,
    ip_v4_conf: { conf, ip: ip ? { resource_uri: `${API}/ips/${ip}/`, uuid: ip } : null },
    ip_v6_conf: null,
    mac,
    model: "virtio",
    runtime: runtimeIp
      ? {
          interface_type: "public",
          io: { bytes_recv: 1, bytes_sent: 2, packets_recv: 3, packets_sent: 4 },
          ip_v4: { resource_uri: `${API}/ips/${runtimeIp}/`, uuid: runtimeIp },
          ip_v6: null,
        }
      : null,
    vlan: null,
  };
}

export function vlanNic(mac: string, vlan: string): Obj {
  return {
    boot_order: null,
    firewall_policy: null,
    ip_v4_conf: null,
    ip_v6_conf: null,
    mac,
    model: "virtio",
    runtime: null,
    vlan: { resource_uri: `${API}/vlans/${vlan}/`, uuid: vlan },
  };
}

export function makeServer(n: number, name: string, status: "running" | "stopped", nics: Obj[]): FakeServer {
  const uuid = fakeUuid(n);
  const running = status === "running";
  return {
    context: true,
    cpu: 2000,
    cpu_model: null,
    cpus_instead_of_cores: false,
    drives: [
      {
        boot_order: 1,
        dev_channel: "0:0",
        device: "virtio",
        drive: { resource_uri: `${API}/drives/${fakeUuid(1000 + n)}/`, uuid: fakeUuid(1000 + n) },
        runtime: running ? { io: { bytes_read: 10, bytes_written: 20 } } : null,
      },
    ],
    enable_numa: false,
    grantees: [],
    hv_relaxed: false,
    hv_tsc: false,
    jobs: [],
    mem: 4294967296,
    meta: { role: "control-plane", ssh_public_key: "ssh-ed25519 AAAAfake" },
    name,
    nics,
    owner: FAKE_OWNER,
    permissions: [],
    requirements: [],
    resource_uri: `${API}/servers/${uuid}/`,
    runtime: running
      ? {
          active_since: "2024-01-01T00:00:00+00:00",
          nics: nics
            .filter((nic) => isObj(nic.runtime))
            .map((nic) => ({ ...(nic.runtime as Obj), mac: nic.mac })),
        }
      : null,
    smp: 2,
    status,
    tags: [],
    uuid,
    vnc_password: "fake-vnc-secret",
  };
}

const subscription = (id: number) => ({ id, resource_uri: `${API}/subscriptions/${id}/` });

export function makeIp(ip: string, opts: { subscribed: boolean; server?: string }): FakeIp {
  return {
    gateway: "203.0.113.1",
    grantees: [],
    meta: {},
    nameservers: ["198.51.100.53"],
    netmask: 24,
    owner: FAKE_OWNER,
    permissions: [],
    resource_uri: `${API}/ips/${ip}/`,
    server: opts.server ? { uuid: opts.server, resource_uri: `${API}/servers/${opts.server}/` } : null,
    subscription: opts.subscribed ? subscription(7000 + Number(ip.split(".").pop())) : null,
    tags: [],
    uuid: ip,
  };
}
