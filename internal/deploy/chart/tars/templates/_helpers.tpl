{{/*
The daemons `tarsctl serve` runs, in dependency order: the Deployment name
(the runbook's deployment/dashboard-api), the values key that holds its
settings, and the configuration key of its port and URL. Keep in step with
internal/services (a test checks it).
*/}}
{{- define "tars.services" -}}
- name: dashboard-api
  key: dashboardApi
  configKey: dashboard_api
- name: orchestration-agent
  key: orchestrationAgent
  configKey: orchestration_agent
- name: hypersync
  key: hypersync
  configKey: hypersync
{{- end }}

{{/* A resource name with the optional namePrefix. */}}
{{- define "tars.name" -}}
{{- printf "%s%s" (.root.Values.namePrefix | default "") .name | trunc 63 | trimSuffix "-" -}}
{{- end }}

{{- define "tars.configMapName" -}}
{{- include "tars.name" (dict "root" . "name" "tars-config") -}}
{{- end }}

{{- define "tars.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- include "tars.name" (dict "root" . "name" (.Values.serviceAccount.name | default "tars")) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end }}

{{/* Labels on every object. */}}
{{- define "tars.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: tars
app.kubernetes.io/version: {{ .Chart.AppVersion | replace "+" "_" | trunc 63 | trimSuffix "-" | quote }}
{{- end }}

{{/* Labels that select one daemon's pods; called with (dict "root" $ "svc" $svc). */}}
{{- define "tars.selectorLabels" -}}
app: {{ .svc.name }}
app.kubernetes.io/name: {{ .svc.name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end }}

{{- define "tars.serviceLabels" -}}
{{ include "tars.labels" .root }}
app: {{ .svc.name }}
app.kubernetes.io/name: {{ .svc.name }}
app.kubernetes.io/component: {{ .svc.name }}
{{- end }}

{{/* The image of every daemon: the tarsctl image. */}}
{{- define "tars.image" -}}
{{- $img := .Values.global.image -}}
{{- $repo := .Values.image.repository | default $img.repository -}}
{{- $tag := .Values.image.tag | default $img.tag | default .Chart.AppVersion -}}
{{- printf "%s:%v" $repo $tag -}}
{{- end }}

{{- define "tars.pullPolicy" -}}
{{- .Values.image.pullPolicy | default .Values.global.image.pullPolicy | default "IfNotPresent" -}}
{{- end }}

{{/* Replicas of one daemon: its own, else replicaCount. (dict "root" $ "v" $v) */}}
{{- define "tars.replicas" -}}
{{- if hasKey .v "replicas" -}}
{{- .v.replicas -}}
{{- else -}}
{{- .root.Values.replicaCount -}}
{{- end -}}
{{- end }}

{{/* Autoscaling of one daemon: the chart-wide settings under its own. */}}
{{- define "tars.autoscaling" -}}
{{- toYaml (mergeOverwrite (deepCopy .root.Values.autoscaling) (deepCopy (.v.autoscaling | default dict))) -}}
{{- end }}

{{/* Where the daemons read secret files: the Vault Agent's directory or the mounted Secrets. */}}
{{- define "tars.secretsDir" -}}
{{- if .Values.vault.enabled -}}
{{- .Values.vault.secretsPath -}}
{{- else -}}
{{- .Values.secrets.mountPath -}}
{{- end -}}
{{- end }}

{{/*
The secrets the configuration needs, as a YAML list: id, the Secret's name,
its keys and the files they become (under tars.secretsDir), and the Vault
path and field they come from when vault.enabled.
  jwt       when config.auth.enabled
  aes       when config.encryption.enabled
  rsa       when config.signing.enabled
  redis     when config.redis.enabled (and secrets.redis.enabled)
  database  when config.database.driver is postgres (and secrets.database.enabled)
*/}}
{{- define "tars.neededSecrets" -}}
{{- $c := .Values.config | default dict -}}
{{- $s := .Values.secrets -}}
{{- $v := .Values.vault.secrets -}}
{{- if and (dig "auth" "enabled" false $c) $s.jwt.enabled }}
- id: jwt
  secretName: {{ $s.jwt.name }}
  items:
    - {key: {{ $s.jwt.key | quote }}, path: jwt_secret, vaultPath: {{ $v.jwt.path | quote }}, vaultField: {{ $v.jwt.field | quote }}}
{{- end }}
{{- if and (dig "encryption" "enabled" false $c) $s.aes.enabled }}
- id: aes
  secretName: {{ $s.aes.name }}
  items:
    - {key: {{ $s.aes.key | quote }}, path: aes.key, vaultPath: {{ $v.aes.path | quote }}, vaultField: {{ $v.aes.field | quote }}}
{{- end }}
{{- if and (dig "signing" "enabled" false $c) $s.rsa.enabled }}
- id: rsa
  secretName: {{ $s.rsa.name }}
  items:
    - {key: {{ $s.rsa.privateKey | quote }}, path: rsa_private.pem, vaultPath: {{ $v.rsa.path | quote }}, vaultField: {{ $v.rsa.field | quote }}}
    - {key: {{ $s.rsa.publicKey | quote }}, path: rsa_public.pem, vaultPath: {{ $v.rsaPublic.path | quote }}, vaultField: {{ $v.rsaPublic.field | quote }}}
{{- end }}
{{- if and (dig "redis" "enabled" false $c) $s.redis.enabled }}
- id: redis
  secretName: {{ $s.redis.name }}
  items:
    - {key: {{ $s.redis.key | quote }}, path: redis_password, vaultPath: {{ $v.redis.path | quote }}, vaultField: {{ $v.redis.field | quote }}}
{{- end }}
{{- if and (eq (dig "database" "driver" "" $c) "postgres") $s.database.enabled }}
- id: database
  secretName: {{ $s.database.name }}
  items:
    - {key: {{ $s.database.key | quote }}, path: db_password, vaultPath: {{ $v.database.path | quote }}, vaultField: {{ $v.database.field | quote }}}
{{- end }}
{{- end }}

{{/*
The configuration file the pods read (TARS_CONFIG): .Values.config with the
keys the chart must decide — where to listen, where the other daemons are,
the data directory, and the secret files.
*/}}
{{- define "tars.config" -}}
{{- $cfg := deepCopy (.Values.config | default dict) -}}
{{- $dir := include "tars.secretsDir" . -}}
{{- $needed := include "tars.neededSecrets" . | fromYamlArray -}}
{{- $ids := list -}}
{{- range $needed }}{{ $ids = append $ids .id }}{{ end -}}
{{- $services := dict -}}
{{- range $svc := include "tars.services" . | fromYamlArray -}}
{{- $v := index $.Values $svc.key | default dict -}}
{{- $host := include "tars.name" (dict "root" $ "name" $svc.name) -}}
{{- $_ := set $services $svc.configKey (dict "port" (int $v.port) "url" (printf "http://%s:%d" $host (int $v.port))) -}}
{{- end -}}
{{- $over := dict
  "api" (dict "host" "0.0.0.0" "port" (int .Values.dashboardApi.port))
  "paths" (dict "home" .Values.persistence.mountPath)
  "services" $services -}}
{{- if has "jwt" $ids }}{{ $_ := set $over "auth" (dict "jwt_secret_file" (printf "%s/jwt_secret" $dir)) }}{{ end -}}
{{- if has "aes" $ids }}{{ $_ := set $over "encryption" (dict "key_file" (printf "%s/aes.key" $dir)) }}{{ end -}}
{{- if has "rsa" $ids }}{{ $_ := set $over "signing" (dict "key_file" (printf "%s/rsa_private.pem" $dir)) }}{{ end -}}
{{- if has "redis" $ids }}{{ $_ := set $over "redis" (dict "password" (printf "file:%s/redis_password" $dir)) }}{{ end -}}
{{- if has "database" $ids }}{{ $_ := set $over "database" (dict "password" (printf "file:%s/db_password" $dir)) }}{{ end -}}
{{- toYaml (mergeOverwrite $cfg $over) -}}
{{- end }}

{{/* Vault Agent annotations for a pod template. */}}
{{- define "tars.vaultAnnotations" -}}
{{- if .Values.vault.enabled }}
vault.hashicorp.com/agent-inject: "true"
vault.hashicorp.com/role: {{ .Values.vault.role | quote }}
vault.hashicorp.com/auth-path: {{ .Values.vault.authPath | quote }}
vault.hashicorp.com/secret-volume-path: {{ .Values.vault.secretsPath | quote }}
{{- with .Values.vault.annotations }}
{{ toYaml . }}
{{- end }}
{{- range $sec := include "tars.neededSecrets" . | fromYamlArray }}
{{- range $sec.items }}
vault.hashicorp.com/agent-inject-secret-{{ .path }}: {{ .vaultPath | quote }}
vault.hashicorp.com/agent-inject-template-{{ .path }}: {{ printf "{{- with secret %q -}}{{ .Data.data.%s }}{{- end -}}" .vaultPath .vaultField | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
