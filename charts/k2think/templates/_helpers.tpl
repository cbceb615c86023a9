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

{{/* An image reference <registry>/<repository>:<tag>@<digest>, parts optional. Context: dict registry repository tag digest. */}}
{{- define "k2think.imageRef" -}}
{{- $ref := .repository }}
{{- with .registry }}{{ $ref = printf "%s/%s" (trimSuffix "/" .) $ref }}{{ end }}
{{- with .tag }}{{ $ref = printf "%s:%s" $ref . }}{{ end }}
{{- with .digest }}{{ $ref = printf "%s@%s" $ref . }}{{ end }}
{{- $ref }}
{{- end }}

{{/* Image of a role: gpuImage for vllm, image otherwise; registry and tag from `image`. Context: dict root role. */}}
{{- define "k2think.image" -}}
{{- $base := .root.Values.image }}
{{- $img := ternary .root.Values.gpuImage $base (eq (include "k2think.backend" .) "vllm") }}
{{- $tag := $img.tag | default $base.tag | default .root.Chart.AppVersion -}}
image: {{ include "k2think.imageRef" (dict "registry" $base.registry "repository" $img.repository "tag" $tag "digest" $img.digest) | quote }}
imagePullPolicy: {{ $img.pullPolicy }}
{{- end }}

{{/*
Pod extras of a role (podLabels, podAnnotations, extraEnv, extraEnvFrom, extraVolumes, extraVolumeMounts,
priorityClassName, runtimeClassName): the top-level values with the role's own merged over them, as JSON.
Context: dict root role.
*/}}
{{- define "k2think.podExtras" -}}
{{- $top := .root.Values }}
{{- $own := index .root.Values .role }}
{{- $out := dict }}
{{- range $k := list "podLabels" "podAnnotations" }}
{{- $_ := set $out $k (merge (deepCopy (get $own $k | default dict)) (get $top $k | default dict)) }}
{{- end }}
{{- range $k := list "extraEnv" "extraEnvFrom" "extraVolumes" "extraVolumeMounts" }}
{{- $_ := set $out $k (concat (get $top $k | default list) (get $own $k | default list)) }}
{{- end }}
{{- range $k := list "priorityClassName" "runtimeClassName" }}
{{- $_ := set $out $k (get $own $k | default (get $top $k)) }}
{{- end }}
{{- toJson $out }}
{{- end }}

{{/* Seconds a role's pod gets to stop: its own value, else preStop pause + drain + 15. Context: dict root role. */}}
{{- define "k2think.terminationGrace" -}}
{{- $server := .root.Values.server }}
{{- (index .root.Values .role).terminationGracePeriodSeconds | default (add $server.preStopSleepS (ceil $server.gracePeriodS) 15) | int }}
{{- end }}

{{/* Deployment strategy of a role: its own, else 0 surge for vllm (no second GPU pod), else 1 surge and 0 unavailable. Context: dict root role. */}}
{{- define "k2think.strategy" -}}
{{- $own := (index .root.Values .role).strategy | default dict }}
{{- if $own }}
{{- toYaml $own }}
{{- else if eq (include "k2think.backend" .) "vllm" }}
{{- toYaml (dict "type" "RollingUpdate" "rollingUpdate" (dict "maxSurge" 0 "maxUnavailable" 1)) }}
{{- else }}
{{- toYaml (dict "type" "RollingUpdate" "rollingUpdate" (dict "maxSurge" 1 "maxUnavailable" 0)) }}
{{- end }}
{{- end }}

{{/* Model folder (or file) of a role under the model volume; "" when it serves no trained model. Context: dict root role. */}}
{{- define "k2think.modelFile" -}}
{{- with (index .root.Values .role).modelPath }}
{{- printf "%s/%s" (trimSuffix "/" $.root.Values.modelVolume.mountPath) (trimPrefix "./" .) }}
{{- end }}
{{- end }}

{{/* Whether a role's pods mount the model volume (a role with modelPath running its engine in the pod). Context: dict root role. */}}
{{- define "k2think.mountsModel" -}}
{{- if and (include "k2think.modelFile" .) (has (include "k2think.backend" .) (list "embedded" "vllm")) (not (and (eq .role "solver") (include "k2think.llmServer" .root))) }}true{{ end }}
{{- end }}

{{/* Pod securityContext of Ray pods reading the model volume: the Ray images run as uid 1000, the trained folders belong to podSecurityContext.fsGroup. */}}
{{- define "k2think.rayModelAccess" -}}
securityContext:
  supplementalGroups: [{{ .Values.podSecurityContext.fsGroup | default .Values.podSecurityContext.runAsGroup }}]
{{- end }}

{{/* Env of a container that may download from Hugging Face: HF_TOKEN from the Secret, when one is set. */}}
{{- define "k2think.hfTokenEnv" -}}
{{- with .Values.huggingface.existingSecret }}
- name: HF_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.huggingface.secretKey }}
{{- end }}
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
{{- if and (has $backend (list "cerebras" "openai")) (not (include "k2think.usesLlmServer" .)) }}
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
{{- else if and (not (kindIs "invalid" $v)) (ne (toString $v) "") }}
{{ $name }}: {{ include "k2think.scalar" $v | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/* Whether a role calls the solver's in-cluster model server: the solver on rayserve/kserve, or an openai role without a baseUrl. Context: dict root role. */}}
{{- define "k2think.usesLlmServer" -}}
{{- $v := index .root.Values .role }}
{{- if include "k2think.llmServer" .root }}
{{- if or (eq .role "solver") (and (eq $v.backend "openai") (not $v.openai.baseUrl)) }}true{{ end }}
{{- end }}
{{- end }}

{{/* Engine settings of an engine role as env entries K2_<ROLE>__*. Context: dict root role. */}}
{{- define "k2think.engineEnv" -}}
{{- $v := index .root.Values .role }}
{{- $p := printf "K2_%s__" (upper .role) }}
{{- $server := include "k2think.usesLlmServer" . }}
{{- $mounts := include "k2think.secretMounts" . | fromJsonArray }}
{{- $engine := ternary "openai" $v.backend (ne $server "") }}
{{- $modelFile := include "k2think.modelFile" . }}
{{ $p }}ENGINE: {{ $engine | quote }}
{{ $p }}MODEL: {{ ternary $modelFile $v.model (and (eq $engine "vllm") (ne $modelFile "")) | quote }}
{{- if eq $engine "embedded" }}
{{- if $modelFile }}
{{ $p }}EMBEDDED__MODEL_PATH: {{ $modelFile | quote }}
{{- end }}
{{- include "k2think.flatEnv" (dict "prefix" (printf "%sEMBEDDED__" $p) "values" ($v.embedded | default dict)) }}
{{- end }}
{{- range $k := list "pricePerMillionPrompt" "pricePerMillionCompletion" }}
{{- with get $v $k }}
{{ $p }}{{ $k | snakecase | upper }}: {{ include "k2think.scalar" . | quote }}
{{- end }}
{{- end }}
{{- if $server }}
{{ $p }}BASE_URL: {{ include "k2think.llmUrl" .root | quote }}
{{- else if eq $v.backend "openai" }}
{{ $p }}BASE_URL: {{ $v.openai.baseUrl | quote }}
{{- else if eq $v.backend "vllm" }}
{{- include "k2think.flatEnv" (dict "prefix" (printf "%sVLLM__" $p) "values" (omit $v.vllm "engineKwargs")) }}
{{- with $v.vllm.engineKwargs }}
{{ $p }}VLLM__ENGINE_KWARGS: {{ toJson . | quote }}
{{- end }}
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
K2_SERVER__GRACE_PERIOD_S: {{ include "k2think.scalar" .Values.server.gracePeriodS | quote }}
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
K2_SERVER__HEALTH_PORT: {{ .Values.server.healthPort | int | quote }}
{{- with .Values.telemetry.otlpEndpoint }}
K2_SERVER__OTLP_ENDPOINT: {{ . | quote }}
{{- end }}
{{- include "k2think.flatEnv" (dict "prefix" "K2_PIPELINE__" "values" .Values.pipeline) }}
{{- include "k2think.flatEnv" (dict "prefix" "K2_LIMITS__" "values" .Values.limits) }}
{{- range include "k2think.engineRoles" . | fromJsonArray }}
{{- include "k2think.engineEnv" (dict "root" $ "role" .) }}
{{- end }}
{{- end }}

{{/* vLLM engine kwargs (snake_case) from a role's `vllm` values: its engineKwargs as given, the other keys, and speculative_config when a method is set. */}}
{{- define "k2think.vllmKwargs" -}}
{{- $out := deepCopy (.engineKwargs | default dict) }}
{{- range $k, $v := omit . "speculative" "engineKwargs" }}{{ $_ := set $out ($k | snakecase) $v }}{{ end }}
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

{{/* What scales a role: "keda" (solver, and gateway when keda.gateway.enabled), "hpa" (CPU; never vllm roles) or "". Context: dict root role. */}}
{{- define "k2think.scaler" -}}
{{- $a := .root.Values.autoscaling }}
{{- if and $a.keda.enabled (or (eq .role "solver") (and (eq .role "gateway") $a.keda.gateway.enabled)) }}keda
{{- else if and $a.enabled (ne (include "k2think.backend" .) "vllm") }}hpa
{{- end }}
{{- end }}

{{/* Whether a role's replica count is owned by an autoscaler. Context: dict root role. */}}
{{- define "k2think.autoscaled" -}}
{{- if include "k2think.scaler" . }}true{{ end }}
{{- end }}

{{/* Most pods a role runs at once (autoscaler maximum or replicas). Context: dict root role. */}}
{{- define "k2think.maxPods" -}}
{{- $a := .root.Values.autoscaling }}
{{- $scaler := include "k2think.scaler" . }}
{{- if eq $scaler "keda" }}{{ ternary $a.keda.maxReplicas $a.keda.gateway.maxReplicas (eq .role "solver") }}
{{- else if eq $scaler "hpa" }}{{ $a.maxReplicas }}
{{- else }}{{ (index .root.Values .role).replicas }}
{{- end }}
{{- end }}

{{/* Startup, liveness and readiness probes: native gRPC health (readiness: engine loaded and warm; liveness: the k2think.liveness service, engine health within a bound) on the plaintext health-only port, which keeps answering through a drain (the gRPC port stops listening when it sends GOAWAY) and needs no TLS. Context: dict root role. */}}
{{- define "k2think.probes" -}}
{{- $probes := mergeOverwrite (deepCopy .root.Values.probes) ((index .root.Values .role).probes | default dict) }}
{{- $port := .root.Values.server.healthPort | int }}
{{- range $kind := list "startup" "liveness" "readiness" }}
{{ $kind }}Probe:
  grpc:
    port: {{ $port }}
    {{- if eq $kind "liveness" }}
    service: k2think.liveness
    {{- end }}
  {{- toYaml (get $probes $kind) | nindent 2 }}
{{- end }}
{{- end }}

{{/* Checksum of the settings a role reads: all of them for the gateway; an engine role skips the other engine roles' K2_<ROLE>__ keys, so a judge change does not restart solvers. Context: dict root role. */}}
{{- define "k2think.configChecksum" -}}
{{- $env := include "k2think.env" .root | fromYaml }}
{{- $kept := dict }}
{{- range $k, $v := $env }}
{{- $other := false }}
{{- range $r := include "k2think.engineRoles" $.root | fromJsonArray }}
{{- if and (ne $.role "gateway") (ne $r $.role) (hasPrefix (printf "K2_%s__" (upper $r)) $k) }}{{ $other = true }}{{ end }}
{{- end }}
{{- if not $other }}{{ $_ := set $kept $k $v }}{{ end }}
{{- end }}
{{- toJson $kept | sha256sum }}
{{- end }}

{{/* Fail unless min <= max. Context: dict min max name. */}}
{{- define "k2think.checkRange" -}}
{{- if gt (float64 .min) (float64 .max) }}
{{- fail (printf "%s: minimum %v is above maximum %v" .name .min .max) }}
{{- end }}
{{- end }}

{{/* Cross-field checks the schema cannot state. */}}
{{- define "k2think.validate" -}}
{{- $v := .Values }}
{{- if and $v.kserve.enabled (not (has $v.solver.backend (list "embedded" "openai"))) }}
{{- fail (printf "kserve.enabled serves the solver model itself; solver.backend=%s conflicts (use openai)" $v.solver.backend) }}
{{- end }}
{{- range $role := include "k2think.engineRoles" . | fromJsonArray }}
{{- $r := index $v $role }}
{{- $ctx := dict "root" $ "role" $role }}
{{- if and (eq $r.backend "cerebras") (not $r.cerebras.existingSecret) }}
{{- fail (printf "%s.backend=cerebras needs %s.cerebras.existingSecret (a Secret holding the API key)" $role $role) }}
{{- end }}
{{- if and (eq $r.backend "openai") (not $r.openai.baseUrl) (not (include "k2think.usesLlmServer" $ctx)) }}
{{- fail (printf "%s.backend=openai needs %s.openai.baseUrl (or kserve / solver.backend=rayserve to call the in-cluster model server)" $role $role) }}
{{- end }}
{{- if and (eq $r.backend "vllm") $r.modelCache.enabled (not (has "ReadWriteMany" $r.modelCache.accessModes)) (gt (include "k2think.maxPods" $ctx | int) 1) }}
{{- fail (printf "%s.backend=vllm runs up to %s pods on one %s model cache: set %s.modelCache.accessModes to [ReadWriteMany], or one replica" $role (include "k2think.maxPods" $ctx) (join "/" $r.modelCache.accessModes) $role) }}
{{- end }}
{{- if $r.modelPath }}
{{- if not $v.modelVolume.existingClaim }}
{{- fail (printf "%s.modelPath needs modelVolume.existingClaim (the claim holding the model folder)" $role) }}
{{- end }}
{{- if not (or (include "k2think.mountsModel" $ctx) (and (eq $role "solver") (include "k2think.llmServer" $))) }}
{{- fail (printf "%s.modelPath serves a model from the volume; %s.backend=%s cannot (use embedded or vllm, or the solver on kserve/rayserve)" $role $role $r.backend) }}
{{- end }}
{{- end }}
{{- end }}
{{- if and $v.kserve.enabled (eq $v.kserve.deploymentMode "Serverless") $v.networkPolicy.enabled }}
{{- fail "kserve.deploymentMode=Serverless routes through the Knative ingress, which networkPolicy cannot name: use RawDeployment or disable networkPolicy" }}
{{- end }}
{{- if and $v.tls.enabled (not $v.tls.existingSecret) }}
{{- fail "tls.enabled needs tls.existingSecret (a kubernetes.io/tls Secret)" }}
{{- end }}
{{- with $v.pipeline.hardDeadlineS }}
{{- if lt (float64 $v.server.gracePeriodS) (float64 .) }}
{{- fail (printf "server.gracePeriodS (%v) is shorter than pipeline.hardDeadlineS (%v): shutdown would cut requests before their deadline" $v.server.gracePeriodS .) }}
{{- end }}
{{- if $v.pipeline.softDeadlineS }}
{{- include "k2think.checkRange" (dict "name" "pipeline.softDeadlineS/hardDeadlineS" "min" $v.pipeline.softDeadlineS "max" .) }}
{{- end }}
{{- end }}
{{- range $role := include "k2think.roles" . | fromJsonArray }}
{{- $r := index $v $role }}
{{- $needed := add $v.server.preStopSleepS (ceil $v.server.gracePeriodS) }}
{{- with $r.terminationGracePeriodSeconds }}
{{- if lt (int .) (int $needed) }}
{{- fail (printf "%s.terminationGracePeriodSeconds (%v) must cover server.preStopSleepS + server.gracePeriodS (%v)" $role . $needed) }}
{{- end }}
{{- end }}
{{- with dig "rollingUpdate" dict ($r.strategy | default dict) }}
{{- if and (eq (toString (.maxSurge | default 0)) "0") (eq (toString (.maxUnavailable | default 0)) "0") (hasKey . "maxSurge") (hasKey . "maxUnavailable") }}
{{- fail (printf "%s.strategy: maxSurge and maxUnavailable cannot both be 0" $role) }}
{{- end }}
{{- end }}
{{- end }}
{{- $a := $v.autoscaling }}
{{- include "k2think.checkRange" (dict "name" "autoscaling.minReplicas/maxReplicas" "min" $a.minReplicas "max" $a.maxReplicas) }}
{{- include "k2think.checkRange" (dict "name" "autoscaling.keda.minReplicas/maxReplicas" "min" $a.keda.minReplicas "max" $a.keda.maxReplicas) }}
{{- include "k2think.checkRange" (dict "name" "autoscaling.keda.gateway.minReplicas/maxReplicas" "min" $a.keda.gateway.minReplicas "max" $a.keda.gateway.maxReplicas) }}
{{- include "k2think.checkRange" (dict "name" "kserve.minReplicas/maxReplicas" "min" $v.kserve.minReplicas "max" $v.kserve.maxReplicas) }}
{{- with $v.solver.rayserve.autoscaling }}
{{- include "k2think.checkRange" (dict "name" "solver.rayserve.autoscaling.minReplicas/maxReplicas" "min" .minReplicas "max" .maxReplicas) }}
{{- end }}
{{- with $v.solver.rayserve }}
{{- if and (eq $v.solver.backend "rayserve") (not (hasPrefix (printf "%s-" .rayVersion) (printf "%s-" .image.tag))) }}
{{- fail (printf "solver.rayserve.image.tag %s is not an image of Ray %s (solver.rayserve.rayVersion): Ray images are tagged <ray version>-<python>-<cuda>, e.g. %s-py312-cu130" .image.tag .rayVersion .rayVersion) }}
{{- end }}
{{- end }}
{{- include "k2think.checkRange" (dict "name" "pipeline.n/maxN" "min" $v.pipeline.n "max" $v.pipeline.maxN) }}
{{- end }}
