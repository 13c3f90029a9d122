/** The controller's tuning defaults; their own module so the CLI can show them without loading the controller. */
export const CONTROLLER_DEFAULTS = {
  leaseName: "floatip-controller",
  writeConcurrency: 16,
  poolStatusIntervalMs: 1000,
  eventConcurrency: 4,
} as const;
