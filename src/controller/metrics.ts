/** The controller's Prometheus metrics; names follow MetalLB's controller metrics with the floatip_ prefix. */
import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";

export class ControllerMetrics {
  readonly registry = new Registry();
  readonly addressesInUse = new Gauge({
    name: "floatip_allocator_addresses_in_use_total",
    help: "Addresses of the pool currently assigned to Services",
    labelNames: ["pool"],
    registers: [this.registry],
  });
  readonly addressesTotal = new Gauge({
    name: "floatip_allocator_addresses_total",
    help: "Usable addresses in the pool (saturates at 2^53 for large IPv6 pools)",
    labelNames: ["pool"],
    registers: [this.registry],
  });
  readonly isLeader = new Gauge({
    name: "floatip_controller_is_leader",
    help: "1 while this controller holds the leader Lease",
    registers: [this.registry],
  });
  readonly reconciles = new Counter({
    name: "floatip_controller_reconciles_total",
    help: "Service reconciliations by outcome",
    labelNames: ["outcome"],
    registers: [this.registry],
  });
  readonly allocationFailures = new Counter({
    name: "floatip_controller_allocation_failures_total",
    help: "Failed allocations by reason",
    labelNames: ["reason"],
    registers: [this.registry],
  });
  readonly apiWrites = new Counter({
    name: "floatip_controller_api_writes_total",
    help: "API writes by target and result",
    labelNames: ["target", "result"],
    registers: [this.registry],
  });
  readonly events = new Counter({
    name: "floatip_controller_events_total",
    help: "Kubernetes Events by result",
    labelNames: ["result"],
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: "floatip_controller_queue_depth",
    help: "Services waiting to be reconciled",
    registers: [this.registry],
  });
  readonly poolsRejected = new Gauge({
    name: "floatip_controller_pools_rejected",
    help: "IPAddressPools currently ignored because they are invalid or overlap an older pool",
    registers: [this.registry],
  });

  constructor(defaultMetrics = true) {
    // Event-loop delay sampled once a second, not by prom-client's default 10 ms timer (100 wakeups
    // a second of an otherwise idle controller).
    if (defaultMetrics)
      collectDefaultMetrics({
        register: this.registry,
        prefix: "floatip_controller_process_",
        eventLoopMonitoringPrecision: 1000,
      });
  }
}
