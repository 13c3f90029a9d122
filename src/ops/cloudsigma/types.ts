/**
 * CloudSigma API 2.0 shapes used by `floatip cloudsigma`, as documented in the server schema
 * (GET /servers/schema/), the server/NIC examples and the IP examples of cloudsigma-docs.
 * Only the fields we read are typed; everything else is kept as opaque JSON so a PUT can send
 * a server definition back without losing fields this code does not know about.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** A related resource reference, e.g. `{"uuid": "...", "resource_uri": "/api/2.0/ips/.../"}`. */
export interface ResourceRef {
  uuid: string;
  resource_uri?: string;
}

export type IpConfMode = "dhcp" | "static" | "manual";

/** `nics[].ip_v4_conf`: `ip` is only used with `static` (a reference to an owned IP). */
export interface IpConf {
  conf: IpConfMode | null;
  ip?: ResourceRef | string | null;
}

/** Read-only per-NIC runtime of a running server. */
export interface NicRuntime {
  interface_type?: "public" | "private";
  ip_v4?: ResourceRef | null;
  ip_v6?: ResourceRef | string | null;
}

export interface Nic {
  mac?: string;
  model?: string | null;
  vlan?: ResourceRef | string | null;
  ip_v4_conf?: IpConf | null;
  ip_v6_conf?: IpConf | null;
  runtime?: NicRuntime | null;
  [key: string]: unknown;
}

export interface ServerRuntime {
  active_since?: string;
  nics?: (NicRuntime & { mac?: string })[];
}

export interface Server {
  uuid: string;
  name: string;
  status?: string;
  nics?: Nic[];
  runtime?: ServerRuntime | null;
  [key: string]: unknown;
}

/** An IP object: the address itself is the `uuid`; owned IPs have a `subscription`. */
export interface IpObject {
  uuid: string;
  subscription?: { id?: number; resource_uri?: string } | null;
  server?: ResourceRef | null;
  [key: string]: unknown;
}

/** Every list endpoint answers `{meta: {limit, offset, total_count}, objects: [...]}`. */
export interface ListResponse<T> {
  meta?: { limit?: number; offset?: number; total_count?: number };
  objects: T[];
}

/** Error bodies are a list of `{error_type, error_message, error_point}`. */
export interface ApiErrorItem {
  error_type?: string;
  error_message?: string;
  error_point?: string | null;
}
