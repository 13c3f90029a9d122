// Kubernetes label selector evaluation (metav1.LabelSelector semantics) and validation.
// Validation mirrors apimachinery's rules closely enough that a selector the API server would reject
// is reported instead of silently matching something unexpected.

import type { LabelSelector, LabelSelectorRequirement } from "./types.js";

export type Labels = Readonly<Record<string, string>>;

const NAME_RE = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS1123_SUBDOMAIN_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const OPERATORS = new Set(["In", "NotIn", "Exists", "DoesNotExist"]);

/** Returns an error message for an invalid label key, or undefined. */
export function validateLabelKey(key: string): string | undefined {
  const slash = key.indexOf("/");
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined) {
    if (prefix.length === 0 || prefix.length > 253 || !DNS1123_SUBDOMAIN_RE.test(prefix)) {
      return `label key ${JSON.stringify(key)}: prefix must be a lowercase DNS subdomain of at most 253 characters`;
    }
  }
  if (name.length === 0 || name.length > 63 || !NAME_RE.test(name)) {
    return `label key ${JSON.stringify(key)}: name must be 1-63 characters of [A-Za-z0-9-_.], starting and ending alphanumeric`;
  }
  return undefined;
}

/** Returns an error message for an invalid label value, or undefined. Empty values are valid. */
export function validateLabelValue(value: string): string | undefined {
  if (value === "") return undefined;
  if (value.length > 63 || !NAME_RE.test(value)) {
    return `label value ${JSON.stringify(value)}: must be at most 63 characters of [A-Za-z0-9-_.], starting and ending alphanumeric`;
  }
  return undefined;
}

function validateRequirement(req: LabelSelectorRequirement, where: string): string[] {
  const errors: string[] = [];
  const keyErr = validateLabelKey(req.key);
  if (keyErr) errors.push(`${where}: ${keyErr}`);
  if (!OPERATORS.has(req.operator)) {
    errors.push(
      `${where}: operator ${JSON.stringify(req.operator)} is not one of In, NotIn, Exists, DoesNotExist (case-sensitive)`,
    );
    return errors;
  }
  const values = req.values ?? [];
  if ((req.operator === "In" || req.operator === "NotIn") && values.length === 0) {
    errors.push(`${where}: operator ${req.operator} needs at least one value`);
  }
  if ((req.operator === "Exists" || req.operator === "DoesNotExist") && values.length > 0) {
    errors.push(`${where}: operator ${req.operator} must not have values`);
  }
  for (const v of values) {
    const err = validateLabelValue(v);
    if (err) errors.push(`${where}: ${err}`);
  }
  return errors;
}

/** Returns all problems with a selector; empty array = valid. `where` prefixes each message. */
export function validateLabelSelector(sel: LabelSelector, where = "selector"): string[] {
  const errors: string[] = [];
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) {
    const keyErr = validateLabelKey(k);
    if (keyErr) errors.push(`${where}.matchLabels: ${keyErr}`);
    const valErr = validateLabelValue(v);
    if (valErr) errors.push(`${where}.matchLabels[${JSON.stringify(k)}]: ${valErr}`);
  }
  (sel.matchExpressions ?? []).forEach((req, i) => {
    errors.push(...validateRequirement(req, `${where}.matchExpressions[${i}]`));
  });
  return errors;
}

function requirementMatches(req: LabelSelectorRequirement, labels: Labels): boolean {
  const has = Object.hasOwn(labels, req.key);
  const value = labels[req.key];
  const values = req.values ?? [];
  switch (req.operator) {
    case "In":
      return has && value !== undefined && values.includes(value);
    case "NotIn":
      // Kubernetes semantics: a missing key satisfies NotIn.
      return !has || value === undefined || !values.includes(value);
    case "Exists":
      return has;
    case "DoesNotExist":
      return !has;
    default:
      return false;
  }
}

/**
 * True if `labels` satisfy every term of the selector. An empty selector matches everything.
 * Invalid selectors match nothing (fail closed): a typo must never widen who may use a pool.
 */
export function matchesLabelSelector(sel: LabelSelector, labels: Labels | undefined): boolean {
  if (validateLabelSelector(sel).length > 0) return false;
  return matchesValidatedSelector(sel, labels);
}

/** Like matchesLabelSelector but skips validation; only for selectors already validated. */
export function matchesValidatedSelector(sel: LabelSelector, labels: Labels | undefined): boolean {
  const l = labels ?? {};
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) {
    if (!Object.hasOwn(l, k) || l[k] !== v) return false;
  }
  for (const req of sel.matchExpressions ?? []) {
    if (!requirementMatches(req, l)) return false;
  }
  return true;
}

/** Canonical text form, used to detect duplicate selectors in a list. */
export function canonicalSelector(sel: LabelSelector): string {
  const ml = Object.entries(sel.matchLabels ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`);
  const me = (sel.matchExpressions ?? [])
    .map((r) => `${r.key} ${r.operator} (${[...(r.values ?? [])].sort().join(",")})`)
    .sort();
  return [...ml, ...me].join(";");
}
