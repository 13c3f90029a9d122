/**
 * Lab addressing. Only documentation ranges, never private or host addresses:
 * public side 203.0.113.0/25 and 2001:db8:1::/64 (`ens3`), a second public segment 203.0.113.128/25
 * (`ens4`), internal side 198.51.100.0/24 (`eth1`).
 */
export const PUBLIC_PREFIX_LEN = 25;
export const INTERNAL_PREFIX_LEN = 24;
export const PUBLIC6_PREFIX_LEN = 64;

export const nodePublicIp = (i: number) => `203.0.113.${11 + i}`;
export const nodePublicIp6 = (i: number) => `2001:db8:1::${(0x11 + i).toString(16)}`;
export const nodeInternalIp = (i: number) => `198.51.100.${11 + i}`;
export const nodeInternalIp6 = (i: number) => `2001:db8:2::${(0x11 + i).toString(16)}`;
/** Second public segment (a second announce interface, `ens4`). */
export const nodeSecondPublicIp = (i: number) => `203.0.113.${139 + i}`;
export const SECOND_PUBLIC_PREFIX_LEN = 25;

export const CLIENT_IP = "203.0.113.100";
export const CLIENT_IP6 = "2001:db8:1::100";
export const CLIENT_SECOND_IP = "203.0.113.250";
/** Where nodes reach the API server (a relay in the lab's api namespace). */
export const API_RELAY_IP = "198.51.100.2";
export const API_RELAY_PORT = 6443;

/** Floating IPs the demo and tests hand out. */
export const VIP = "203.0.113.50";
export const VIP6 = "2001:db8:1::50";
export const SECOND_VIP = "203.0.113.51";
export const SECOND_SEGMENT_VIP = "203.0.113.240";

export const BACKEND_PORT = 8080;
export const HEARTBEAT_PORT = 7946;
