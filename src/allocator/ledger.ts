// Who holds what: every Service's allocation, the holders of each IP, the used-address sets per
// family and the IPs held under each sharing key. Commit and drop keep the four in step.

import type { IPFamily } from "../api/types.js";
import type { Alloc, HeldIP } from "./held.js";
import { IntervalSet } from "./intervalset.js";

export class Ledger {
  /** Every IP held by at least one Service, per family. */
  readonly used: Record<IPFamily, IntervalSet> = { IPv4: new IntervalSet(), IPv6: new IntervalSet() };
  /** IP text -> keys of the Services holding it. */
  private readonly users = new Map<string, Set<string>>();
  readonly allocs = new Map<string, Alloc>();
  /** Sharing key -> IPs held under it (all users of an IP have the same key). */
  private readonly sharedIPs = new Map<string, Map<string, HeldIP>>();

  /** Keys of the Services holding the IP (unsorted). */
  holders(ipText: string): Iterable<string> {
    return this.users.get(ipText) ?? [];
  }

  /** IPs held under a sharing key. */
  shared(sharingKey: string): Iterable<HeldIP> {
    return this.sharedIPs.get(sharingKey)?.values() ?? [];
  }

  commit(a: Alloc): void {
    this.allocs.set(a.key, a);
    for (const ip of a.ips) {
      let set = this.users.get(ip.text);
      if (!set) {
        set = new Set();
        this.users.set(ip.text, set);
        this.used[ip.family].add(ip.value);
      }
      set.add(a.key);
      if (a.sharingKey !== undefined) {
        let m = this.sharedIPs.get(a.sharingKey);
        if (!m) {
          m = new Map();
          this.sharedIPs.set(a.sharingKey, m);
        }
        m.set(ip.text, ip);
      }
    }
  }

  drop(key: string): void {
    const a = this.allocs.get(key);
    if (!a) return;
    this.allocs.delete(key);
    for (const ip of a.ips) {
      const set = this.users.get(ip.text);
      set?.delete(key);
      if (set && set.size > 0) continue;
      this.users.delete(ip.text);
      this.used[ip.family].delete(ip.value);
      if (a.sharingKey !== undefined) {
        const m = this.sharedIPs.get(a.sharingKey);
        m?.delete(ip.text);
        if (m && m.size === 0) this.sharedIPs.delete(a.sharingKey);
      }
    }
  }
}
