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

{{/*
One daemon's values, as YAML: its block (dashboardApi, ...) with the
catalog's defaults (tars.services) for what the block does not set:
enabled, port, peerPort. (dict "root" $ "svc" $svc)
*/}}
{{- define "tars.daemonValues" -}}
{{- $v := deepCopy (index .root.Values .svc.key | default dict) -}}
{{- if not (hasKey $v "enabled") }}{{ $_ := set $v "enabled" true }}{{ end -}}
{{- if not (hasKey $v "port") }}{{ $_ := set $v "port" .svc.port }}{{ end -}}
{{- if and .svc.peerPort (not (hasKey $v "peerPort")) }}{{ $_ := set $v "peerPort" .svc.peerPort }}{{ end -}}
{{- toYaml $v -}}
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
{{- if $svc.configKey -}}
{{- $v := include "tars.daemonValues" (dict "root" $ "svc" $svc) | fromYaml -}}
{{- $host := include "tars.name" (dict "root" $ "name" $svc.name) -}}
{{- $sec := dict "port" (int $v.port) "url" (printf "http://%s:%d" $host (int $v.port)) -}}
{{- if $v.peerPort }}{{ $_ := set $sec "peer_port" (int $v.peerPort) }}{{ end -}}
{{- $_ := set $services $svc.configKey $sec -}}
{{- end -}}
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

{{/*
One daemon's pod template, for its Deployment or StatefulSet; called with
(dict "root" $ "svc" $svc "v" $v). A StatefulSet with persistence (and no
existingClaim) gets its data volume from its volumeClaimTemplates, one per
member, so its pods list none.
*/}}
{{- define "tars.podTemplate" -}}
{{- $root := .root -}}
{{- $svc := .svc -}}
{{- $v := .v -}}
{{- $ctx := dict "root" $root "svc" $svc -}}
{{- $dir := include "tars.secretsDir" $root -}}
{{- $needed := include "tars.neededSecrets" $root | fromYamlArray -}}
{{- $claimTemplate := and (eq $svc.kind "StatefulSet") $root.Values.persistence.enabled (not $root.Values.persistence.existingClaim) -}}
metadata:
  labels:
    {{- include "tars.serviceLabels" $ctx | nindent 4 }}
  annotations:
    checksum/config: {{ include "tars.config" $root | sha256sum }}
    {{- with (include "tars.vaultAnnotations" $root | trim) }}
    {{- . | nindent 4 }}
    {{- end }}
    {{- with (merge (dict) ($v.podAnnotations | default dict) ($root.Values.podAnnotations | default dict)) }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "tars.serviceAccountName" $root }}
  # The daemons never call the Kubernetes API; the Vault Agent needs the token to log in.
  automountServiceAccountToken: {{ $root.Values.vault.enabled }}
  {{- with $root.Values.global.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- toYaml $root.Values.podSecurityContext | nindent 4 }}
  terminationGracePeriodSeconds: {{ $root.Values.terminationGracePeriodSeconds }}
  {{- with ($v.nodeSelector | default $root.Values.nodeSelector) }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with ($v.tolerations | default $root.Values.tolerations) }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with ($v.affinity | default $root.Values.affinity) }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- if $root.Values.topologySpread.enabled }}
  topologySpreadConstraints:
    - maxSkew: 1
      topologyKey: {{ $root.Values.topologySpread.topologyKey }}
      whenUnsatisfiable: ScheduleAnyway
      labelSelector:
        matchLabels:
          {{- include "tars.selectorLabels" $ctx | nindent 10 }}
  {{- end }}
  containers:
    - name: {{ $svc.name }}
      image: {{ include "tars.image" $root | quote }}
      imagePullPolicy: {{ include "tars.pullPolicy" $root }}
      {{- with $root.Values.global.command }}
      command:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      args: ["serve", {{ $svc.name | quote }}]
      ports:
        - name: http
          containerPort: {{ int $v.port }}
          protocol: TCP
        {{- if $v.peerPort }}
        - name: peer
          containerPort: {{ int $v.peerPort }}
          protocol: TCP
        {{- end }}
      env:
        - name: TARS_PROFILE
          value: {{ $root.Values.profile | quote }}
        - name: TARS_CONFIG
          value: {{ printf "%s/config.yaml" $root.Values.configMountPath | quote }}
        - name: HOME
          value: {{ $root.Values.persistence.mountPath | quote }}
        {{- if eq $svc.kind "StatefulSet" }}
        # The member's stable name (NAME-0, NAME-1, ...): its identity among its peers.
        - name: POD_NAME
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        {{- end }}
        {{- range $needed }}
        {{- if eq .id "redis" }}
        # The staging and production profiles read redis.password from
        # ${REDIS_PASSWORD}: point it at the file (a reference, not the secret).
        - name: REDIS_PASSWORD
          value: {{ printf "file:%s/redis_password" $dir | quote }}
        {{- end }}
        {{- end }}
        {{- with (concat ($root.Values.extraEnv | default list) ($v.extraEnv | default list)) }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      livenessProbe:
        httpGet:
          path: /health
          port: http
        {{- toYaml $root.Values.probes.liveness | nindent 8 }}
      readinessProbe:
        httpGet:
          path: /ready
          port: http
        {{- toYaml $root.Values.probes.readiness | nindent 8 }}
      resources:
        {{- toYaml ($v.resources | default $root.Values.resources) | nindent 8 }}
      securityContext:
        {{- toYaml $root.Values.containerSecurityContext | nindent 8 }}
      volumeMounts:
        - name: config
          mountPath: {{ $root.Values.configMountPath }}
          readOnly: true
        - name: data
          mountPath: {{ $root.Values.persistence.mountPath }}
        - name: tmp
          mountPath: /tmp
        {{- if and $needed (not $root.Values.vault.enabled) }}
        - name: secrets
          mountPath: {{ $root.Values.secrets.mountPath }}
          readOnly: true
        {{- end }}
  volumes:
    - name: config
      configMap:
        name: {{ include "tars.configMapName" $root }}
    {{- if not $claimTemplate }}
    - name: data
      {{- if $root.Values.persistence.enabled }}
      persistentVolumeClaim:
        claimName: {{ $root.Values.persistence.existingClaim | default (include "tars.name" (dict "root" $root "name" (printf "%s-data" $svc.name))) }}
      {{- else }}
      emptyDir:
        sizeLimit: {{ $root.Values.persistence.emptyDirSizeLimit }}
      {{- end }}
    {{- end }}
    - name: tmp
      emptyDir:
        sizeLimit: {{ $root.Values.tmpSizeLimit }}
    {{- if and $needed (not $root.Values.vault.enabled) }}
    - name: secrets
      projected:
        defaultMode: 288 # 0440: readable by the pod's group (fsGroup)
        sources:
          {{- range $needed }}
          - secret:
              name: {{ .secretName }}
              items:
                {{- range .items }}
                - key: {{ .key | quote }}
                  path: {{ .path }}
                {{- end }}
          {{- end }}
    {{- end }}
{{- end }}
