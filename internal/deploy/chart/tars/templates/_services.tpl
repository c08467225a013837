{{/*
GENERATED from the service catalog (internal/services) by `make docs`; do not
edit. The daemons, in dependency order:
  name       the workload and its Service (the runbook's deployment/dashboard-api)
  key        its values block (dashboardApi.replicas, ...)
  configKey  its configuration section, services.KEY ("" for none)
  kind       Deployment, or StatefulSet (with a headless Service NAME-headless)
  autoscale  whether it gets a HorizontalPodAutoscaler when autoscaling is on
  port       its API port, unless its values block sets one
  peerPort   the port its peers reach it on (0: none), unless its values block sets one
*/}}
{{- define "tars.services" -}}
- name: dashboard-api
  key: dashboardApi
  configKey: "dashboard_api"
  kind: Deployment
  autoscale: true
  port: 3001
  peerPort: 0
- name: orchestration-agent
  key: orchestrationAgent
  configKey: "orchestration_agent"
  kind: Deployment
  autoscale: true
  port: 8094
  peerPort: 0
- name: hypersync
  key: hypersync
  configKey: "hypersync"
  kind: Deployment
  autoscale: true
  port: 8098
  peerPort: 0
{{- end }}
