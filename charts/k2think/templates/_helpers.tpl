{{/* Chart name. */}}
{{- define "k2think.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: the prefix of every resource. */}}
{{- define "k2think.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* The four roles, each a Deployment + Service; gateway first. */}}
{{- define "k2think.roles" -}}
["gateway", "planner", "solver", "judge"]
{{- end }}

{{/* Roles that run an engine (planner, solver, judge). */}}
{{- define "k2think.engineRoles" -}}
["planner", "solver", "judge"]
{{- end }}

{{/* Container ports of a role: grpc and metrics (the gateway serves /metrics on its HTTP port). */}}
{{- define "k2think.ports" -}}
{{- $ports := dict
  "gateway" (dict "grpc" 50051 "metrics" 8000)
  "planner" (dict "grpc" 50052 "metrics" 9052)
  "solver" (dict "grpc" 50053 "metrics" 9053)
  "judge" (dict "grpc" 50054 "metrics" 9054) }}
{{- toJson (get $ports .) }}
{{- end }}

{{/* Resource name of a role: <fullname>-<role>. Context: dict root role. */}}
{{- define "k2think.componentName" -}}
{{- printf "%s-%s" (include "k2think.fullname" .root) .role | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* In-cluster gRPC address of a role's Service. Context: dict root role. */}}
{{- define "k2think.address" -}}
{{- $ports := include "k2think.ports" .role | fromJson }}
{{- printf "%s.%s.svc:%d" (include "k2think.componentName" .) .root.Release.Namespace (int $ports.grpc) }}
{{- end }}

{{/* Common labels. Context: dict root role (role may be empty). */}}
{{- define "k2think.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "k2think.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: k2think
{{- end }}

{{/* Selector labels; with a role, they select that role's pods only. Context: dict root role. */}}
{{- define "k2think.selectorLabels" -}}
app.kubernetes.io/name: {{ include "k2think.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- with .role }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end }}

{{/* ServiceAccount name. */}}
{{- define "k2think.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "k2think.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Backend of a role ("" for the gateway). Context: dict root role. */}}
{{- define "k2think.backend" -}}
{{- (index .root.Values .role).backend | default "" }}
{{- end }}

{{/* Image of a role: gpuImage for vllm, image otherwise. Context: dict root role. */}}
{{- define "k2think.image" -}}
{{- $img := .root.Values.image }}
{{- if eq (include "k2think.backend" .) "vllm" }}{{ $img = .root.Values.gpuImage }}{{ end -}}
image: {{ printf "%s:%s" $img.repository ($img.tag | default .root.Chart.AppVersion) | quote }}
imagePullPolicy: {{ $img.pullPolicy }}
{{- end }}

{{/* Name of the solver's in-cluster model server (RayService or InferenceService). */}}
{{- define "k2think.llmName" -}}
{{- printf "%s-solver-llm" (include "k2think.fullname" .) | trunc 45 | trimSuffix "-" }}
{{- end }}

{{/* Whether the solver talks to an in-cluster model server: "rayserve", "kserve" or "". */}}
{{- define "k2think.llmServer" -}}
{{- if .Values.kserve.enabled }}kserve{{ else if eq .Values.solver.backend "rayserve" }}rayserve{{ end }}
{{- end }}

{{/* OpenAI-compatible base URL of the solver's in-cluster model server. */}}
{{- define "k2think.llmUrl" -}}
{{- if eq (include "k2think.llmServer" .) "kserve" }}
{{- printf "http://%s-predictor.%s.svc.cluster.local/openai/v1" (include "k2think.llmName" .) .Release.Namespace }}
{{- else }}
{{- printf "http://%s-serve-svc.%s.svc.cluster.local:8000/v1" (include "k2think.llmName" .) .Release.Namespace }}
{{- end }}
{{- end }}

{{/* Port and pod labels of the solver's in-cluster model server, for NetworkPolicy egress. */}}
{{- define "k2think.llmPeer" -}}
{{- if eq (include "k2think.llmServer" .) "kserve" }}
{{- toJson (dict "port" 8080 "labels" (dict "serving.kserve.io/inferenceservice" (include "k2think.llmName" .))) }}
{{- else }}
{{- toJson (dict "port" 8000 "labels" (fromYaml (include "k2think.selectorLabels" (dict "root" . "role" "solver-llm")))) }}
{{- end }}
{{- end }}

{{/* Path a Secret key is mounted at. Context: dict name key. */}}
{{- define "k2think.secretPath" -}}
{{- printf "/etc/k2think/secrets/%s/%s" .name .key }}
{{- end }}

{{/*
Secrets a role mounts, as JSON [{name (volume/dir), secret, key}]: the auth token for every role,
and the engine's API key for cerebras and openai backends. Context: dict root role.
*/}}
{{- define "k2think.secretMounts" -}}
{{- $mounts := list }}
{{- with .root.Values.auth.existingSecret }}
{{- $mounts = append $mounts (dict "name" "auth" "secret" . "key" $.root.Values.auth.secretKey) }}
{{- end }}
{{- $backend := include "k2think.backend" . }}
{{- if and (has $backend (list "cerebras" "openai")) (not (and (eq .role "solver") .root.Values.kserve.enabled)) }}
{{- $src := get (index .root.Values .role) $backend }}
{{- with $src.existingSecret }}
{{- $mounts = append $mounts (dict "name" (printf "%s-%s" $.role $backend) "secret" . "key" $src.secretKey) }}
{{- end }}
{{- end }}
{{- toJson $mounts }}
{{- end }}

{{/* A scalar as an env string; integral floats (JSON numbers) print as integers. */}}
{{- define "k2think.scalar" -}}
{{- if and (kindIs "float64" .) (eq . (floor .)) }}{{ int64 . }}{{ else }}{{ . }}{{ end }}
{{- end }}

{{/* Flatten a values map into env entries PREFIX + KEY in SNAKE_CASE, nesting with "__"; "" and null are skipped. Context: dict prefix values. */}}
{{- define "k2think.flatEnv" -}}
{{- $prefix := .prefix }}
{{- range $k, $v := .values }}
{{- $name := printf "%s%s" $prefix ($k | snakecase | upper) }}
{{- if kindIs "map" $v }}
{{- include "k2think.flatEnv" (dict "prefix" (printf "%s__" $name) "values" $v) }}
{{- else if ne (toString $v) "" }}
{{ $name }}: {{ include "k2think.scalar" $v | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/* Engine settings of an engine role as env entries K2_<ROLE>__*. Context: dict root role. */}}
{{- define "k2think.engineEnv" -}}
{{- $v := index .root.Values .role }}
{{- $p := printf "K2_%s__" (upper .role) }}
{{- $server := ternary (include "k2think.llmServer" .root) "" (eq .role "solver") }}
{{- $mounts := include "k2think.secretMounts" . | fromJsonArray }}
{{- $engine := ternary "openai" $v.backend (ne $server "") }}
{{ $p }}ENGINE: {{ $engine | quote }}
{{ $p }}MODEL: {{ $v.model | quote }}
{{- if $server }}
{{ $p }}BASE_URL: {{ include "k2think.llmUrl" .root | quote }}
{{- else if eq $v.backend "openai" }}
{{ $p }}BASE_URL: {{ $v.openai.baseUrl | quote }}
{{- else if eq $v.backend "vllm" }}
{{- include "k2think.flatEnv" (dict "prefix" (printf "%sVLLM__" $p) "values" $v.vllm) }}
{{- else if eq $v.backend "cerebras" }}
{{- include "k2think.flatEnv" (dict "prefix" (printf "%sCEREBRAS__" $p) "values" (omit $v.cerebras "existingSecret" "secretKey")) }}
{{- end }}
{{- range $mounts }}
{{- if eq .name (printf "%s-cerebras" $.role) }}
{{ $p }}CEREBRAS__API_KEY_FILE: {{ include "k2think.secretPath" . | quote }}
{{- else if eq .name (printf "%s-openai" $.role) }}
{{ $p }}API_KEY_FILE: {{ include "k2think.secretPath" . | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/* Every K2_ setting of the release (ConfigMap data, shared by all roles). */}}
{{- define "k2think.env" -}}
{{- $ports := dict }}
{{- range include "k2think.roles" . | fromJsonArray }}{{ $_ := set $ports . (include "k2think.ports" . | fromJson) }}{{ end -}}
K2_SERVER__HOST: "0.0.0.0"
K2_SERVER__GATEWAY_GRPC_PORT: {{ $ports.gateway.grpc | int | quote }}
K2_SERVER__GATEWAY_HTTP_PORT: {{ $ports.gateway.metrics | int | quote }}
{{- range include "k2think.engineRoles" . | fromJsonArray }}
K2_SERVER__{{ upper . }}_PORT: {{ (get $ports .).grpc | int | quote }}
K2_SERVER__{{ upper . }}_METRICS_PORT: {{ (get $ports .).metrics | int | quote }}
{{- end }}
K2_SERVER__PLANNER_ADDRESS: {{ include "k2think.address" (dict "root" . "role" "planner") | quote }}
K2_SERVER__SOLVER_ADDRESSES: {{ list (include "k2think.address" (dict "root" . "role" "solver")) | toJson | quote }}
K2_SERVER__JUDGE_ADDRESS: {{ include "k2think.address" (dict "root" . "role" "judge") | quote }}
{{- with .Values.auth.existingSecret }}
K2_SERVER__AUTH_TOKEN_FILE: {{ include "k2think.secretPath" (dict "name" "auth" "key" $.Values.auth.secretKey) | quote }}
{{- end }}
{{- if .Values.tls.enabled }}
K2_SERVER__TLS_CERT_FILE: "/etc/k2think/tls/tls.crt"
K2_SERVER__TLS_KEY_FILE: "/etc/k2think/tls/tls.key"
{{- if .Values.tls.hasCA }}
K2_SERVER__TLS_CA_FILE: "/etc/k2think/tls/ca.crt"
{{- end }}
{{- end }}
{{- with .Values.telemetry.otlpEndpoint }}
K2_SERVER__OTLP_ENDPOINT: {{ . | quote }}
{{- end }}
{{- include "k2think.flatEnv" (dict "prefix" "K2_PIPELINE__" "values" .Values.pipeline) }}
{{- include "k2think.flatEnv" (dict "prefix" "K2_LIMITS__" "values" .Values.limits) }}
{{- range include "k2think.engineRoles" . | fromJsonArray }}
{{- include "k2think.engineEnv" (dict "root" $ "role" .) }}
{{- end }}
{{- end }}

{{/* vLLM engine kwargs (snake_case) from a role's `vllm` values, with speculative_config when a method is set. */}}
{{- define "k2think.vllmKwargs" -}}
{{- $out := dict }}
{{- range $k, $v := omit . "speculative" }}{{ $_ := set $out ($k | snakecase) $v }}{{ end }}
{{- $spec := dict }}
{{- range $k, $v := .speculative | default dict }}
{{- if ne (toString $v) "" }}{{ $_ := set $spec ($k | snakecase) $v }}{{ end }}
{{- end }}
{{- if $spec.method }}{{ $_ := set $out "speculative_config" $spec }}{{ end }}
{{- toJson $out }}
{{- end }}

{{/* Resources with nvidia.com/gpu = tensorParallelSize added. Context: dict resources vllm. */}}
{{- define "k2think.gpuResources" -}}
{{- $gpus := dig "tensorParallelSize" 1 .vllm | int }}
{{- toYaml (mergeOverwrite (deepCopy (.resources | default dict)) (dict "limits" (dict "nvidia.com/gpu" $gpus))) }}
{{- end }}

{{/* Whether a role's replica count is owned by an autoscaler. Context: dict root role. */}}
{{- define "k2think.autoscaled" -}}
{{- if or .root.Values.autoscaling.enabled (and (eq .role "solver") .root.Values.autoscaling.keda.enabled) }}true{{ end }}
{{- end }}

{{/* Startup, liveness and readiness probes: native gRPC health, TCP when serving TLS. Context: dict root role. */}}
{{- define "k2think.probes" -}}
{{- $probes := mergeOverwrite (deepCopy .root.Values.probes) ((index .root.Values .role).probes | default dict) }}
{{- $port := (include "k2think.ports" .role | fromJson).grpc | int }}
{{- range $kind := list "startup" "liveness" "readiness" }}
{{ $kind }}Probe:
  {{- if $.root.Values.tls.enabled }}
  tcpSocket:
    port: grpc
  {{- else }}
  grpc:
    port: {{ $port }}
  {{- end }}
  {{- toYaml (get $probes $kind) | nindent 2 }}
{{- end }}
{{- end }}

{{/* Cross-field checks the schema cannot state clearly. */}}
{{- define "k2think.validate" -}}
{{- range $role := include "k2think.engineRoles" . | fromJsonArray }}
{{- $v := index $.Values $role }}
{{- if and (eq $v.backend "cerebras") (not $v.cerebras.existingSecret) }}
{{- fail (printf "%s.backend=cerebras needs %s.cerebras.existingSecret (a Secret holding the API key)" $role $role) }}
{{- end }}
{{- if and (eq $v.backend "openai") (not $v.openai.baseUrl) (not (and (eq $role "solver") $.Values.kserve.enabled)) }}
{{- fail (printf "%s.backend=openai needs %s.openai.baseUrl" $role $role) }}
{{- end }}
{{- end }}
{{- if and .Values.kserve.enabled (not (has .Values.solver.backend (list "embedded" "openai"))) }}
{{- fail (printf "kserve.enabled serves the solver model itself; solver.backend=%s conflicts (use openai)" .Values.solver.backend) }}
{{- end }}
{{- if and .Values.tls.enabled (not .Values.tls.existingSecret) }}
{{- fail "tls.enabled needs tls.existingSecret (a kubernetes.io/tls Secret)" }}
{{- end }}
{{- end }}
