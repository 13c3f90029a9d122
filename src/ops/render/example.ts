// The annotated config printed by `floatip render --example`: the seed's values, documentation IP.
export const EXAMPLE_CONFIG = `# floatip render config: one file for the whole floating-IP setup of the seed runbook.
# Render with: floatip render -c floatip.yaml -o floatip-deploy

# The floating IPs (subscribed/owned, in the nodes' L2 segment). Each becomes a /32 or /128 in the pool.
floatingIPs:
  - 203.0.113.50

# Where the public L2 segment is: cloudsigma (direct NIC, interface ens3) or kube-ovn (provider
# bridge br-ext-cloud). \`interfaces: [<nic>, ...]\` overrides it.
environment: cloudsigma

# The class Envoy Gateway's Service carries and the only one floatip handles.
loadBalancerClass: metallb
namespace: metallb-system
pool: envoy-gateway-pool
l2Advertisement: envoy-gateway-l2

envoyGateway:
  envoyProxy:
    name: custom-proxy-config
    namespace: envoy-gateway-system
  gatewayClass: eg
  externalTrafficPolicy: Cluster # Cluster (the seed) or Local
  logLevel: warn

image:
  # The floatip image (no public one: build deploy/Containerfile and push it); tag or digest.
  repository: localhost/floatip
  # tag: 0.1.0
  # digest: sha256:...

chart:
  # Where the floatip chart is published (deploy/chart packaged); used by the cdev and Flux files.
  repository: oci://registry.example.com/charts
  version: 0.1.0

# cdev:
#   dependsOn: this.label-control-plane-nodes # the seed's helm unit dependency, if your stack has it
`;
