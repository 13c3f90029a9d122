// Wire types for the MetalLB-compatible CRDs (metallb.io/v1beta1) and the subset of core/v1 Service
// that floatip reads. Field names follow the JSON names of the upstream CRDs so objects read from the
// API server can be used as they are. Everything optional here is optional (or defaulted) upstream too.

export const METALLB_GROUP = "metallb.io";
export const METALLB_VERSION = "v1beta1";
export const METALLB_API_VERSION = `${METALLB_GROUP}/${METALLB_VERSION}`;

export type IPFamily = "IPv4" | "IPv6";
export type IPFamilyPolicy = "SingleStack" | "PreferDualStack" | "RequireDualStack";
export type ServiceProtocol = "TCP" | "UDP" | "SCTP";

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  /** RFC 3339; used to decide which of two overlapping pools is "later". */
  creationTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export type LabelSelectorOperator = "In" | "NotIn" | "Exists" | "DoesNotExist";

export interface LabelSelectorRequirement {
  key: string;
  operator: LabelSelectorOperator;
  values?: string[];
}

/** metav1.LabelSelector. An empty selector (`{}`) matches everything. */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

// ---- IPAddressPool ----

export interface ServiceAllocation {
  /** Lower number = higher priority; 0 or unset = lowest priority. */
  priority?: number;
  namespaces?: string[];
  namespaceSelectors?: LabelSelector[];
  serviceSelectors?: LabelSelector[];
}

export interface IPAddressPoolSpec {
  /** CIDRs ("203.0.113.0/24") or ranges ("203.0.113.10-203.0.113.20", spaces allowed around "-"). */
  addresses: string[];
  /** Default true. */
  autoAssign?: boolean;
  /** Skip IPv4 addresses ending in .0 and .255. Default false. */
  avoidBuggyIPs?: boolean;
  serviceAllocation?: ServiceAllocation;
}

export interface IPAddressPoolStatus {
  assignedIPv4?: number;
  assignedIPv6?: number;
  availableIPv4?: number;
  availableIPv6?: number;
}

export interface IPAddressPool {
  apiVersion?: string;
  kind?: "IPAddressPool";
  metadata: ObjectMeta;
  spec: IPAddressPoolSpec;
  status?: IPAddressPoolStatus;
}

// ---- L2Advertisement ----

export interface L2AdvertisementSpec {
  /** Pool names. Neither this nor ipAddressPoolSelectors set = all pools. */
  ipAddressPools?: string[];
  ipAddressPoolSelectors?: LabelSelector[];
  /** Empty = all nodes. */
  nodeSelectors?: LabelSelector[];
  /** Empty = all interfaces. */
  interfaces?: string[];
  /**
   * MetalLB v0.16: only Services matching one of these are announced through this advertisement;
   * empty = all. A matching Service that sets allow-shared-ip is not announced at all.
   */
  serviceSelectors?: LabelSelector[];
  /** MetalLB v0.16: soft owner preference among the nodes nodeSelectors allows. */
  preferredNodeSelectors?: PreferredNodeSelector[];
}

export interface PreferredNodeSelector {
  /** 1-100; the weights of every matching entry (across the Service's advertisements) add up. */
  weight: number;
  /** Which nodes get the weight; an empty selector matches every node. */
  preference: LabelSelector;
}

export interface L2Advertisement {
  apiVersion?: string;
  kind?: "L2Advertisement";
  metadata: ObjectMeta;
  spec: L2AdvertisementSpec;
}

// ---- ServiceL2Status ----

export interface ServiceL2StatusInterface {
  name: string;
}

export interface ServiceL2StatusStatus {
  /** Node currently announcing the Service. */
  node?: string;
  serviceName?: string;
  serviceNamespace?: string;
  interfaces?: ServiceL2StatusInterface[];
}

export interface ServiceL2Status {
  apiVersion?: string;
  kind?: "ServiceL2Status";
  metadata: ObjectMeta;
  spec?: Record<string, never>;
  status?: ServiceL2StatusStatus;
}

// ---- ConfigurationState (MetalLB v0.16; status only) ----

export type ConfigurationResult = "Valid" | "Invalid" | "Unknown";

/** metav1.Condition. */
export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export interface ConfigurationState {
  apiVersion?: string;
  kind?: "ConfigurationState";
  metadata: ObjectMeta;
  status?: { result?: ConfigurationResult; errorSummary?: string; conditions?: Condition[] };
}

// ---- core/v1 Service (subset) ----

export interface ServicePort {
  name?: string;
  port: number;
  /** Defaults to TCP upstream. */
  protocol?: ServiceProtocol;
  targetPort?: number | string;
  nodePort?: number;
}

export interface ServiceSpec {
  type?: "ClusterIP" | "NodePort" | "LoadBalancer" | "ExternalName";
  loadBalancerClass?: string;
  /** Deprecated upstream; still honoured (cannot be combined with the loadBalancerIPs annotation). */
  loadBalancerIP?: string;
  ports?: ServicePort[];
  selector?: Record<string, string>;
  externalTrafficPolicy?: "Cluster" | "Local";
  clusterIP?: string;
  clusterIPs?: string[];
  ipFamilies?: IPFamily[];
  ipFamilyPolicy?: IPFamilyPolicy;
}

export interface LoadBalancerIngress {
  ip?: string;
  hostname?: string;
  ipMode?: "VIP" | "Proxy";
}

export interface ServiceStatus {
  loadBalancer?: { ingress?: LoadBalancerIngress[] };
}

export interface Service {
  apiVersion?: string;
  kind?: "Service";
  metadata: ObjectMeta;
  spec: ServiceSpec;
  status?: ServiceStatus;
}
