{{/* Names and labels. */}}
{{- define "hallmark.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "hallmark.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "hallmark.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hallmark.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "hallmark.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "hallmark.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: hallmark
{{- end -}}

{{- define "hallmark.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "hallmark.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "hallmark.trustConfigMap" -}}
{{- default (printf "%s-trust" (include "hallmark.fullname" .)) .Values.trustRoot.configMapName -}}
{{- end -}}

{{/* An image reference from {repository, tag, digest}; $default tag when tag is empty. */}}
{{- define "hallmark.imageRef" -}}
{{- $img := index . 0 -}}
{{- $defaultTag := index . 1 -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $img.repository $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $img.repository (default $defaultTag $img.tag) -}}
{{- end -}}
{{- end -}}

{{- define "hallmark.image" -}}
{{- include "hallmark.imageRef" (list .Values.image .Chart.AppVersion) -}}
{{- end -}}

{{- define "hallmark.sidecarImage" -}}
{{- if .Values.hsm.p11kit.sidecar.image.repository -}}
{{- include "hallmark.imageRef" (list .Values.hsm.p11kit.sidecar.image .Chart.AppVersion) -}}
{{- else -}}
{{- include "hallmark.image" . -}}
{{- end -}}
{{- end -}}

{{/* The PKCS#11 module Hallmark loads in each mode. */}}
{{- define "hallmark.module" -}}
{{- if eq .Values.hsm.mode "softhsm" -}}
{{- .Values.hsm.softhsm.module -}}
{{- else if eq .Values.hsm.mode "pkcs11" -}}
{{- .Values.hsm.pkcs11.module -}}
{{- else -}}
{{- .Values.hsm.p11kit.clientModule -}}
{{- end -}}
{{- end -}}

{{- define "hallmark.keyUri" -}}
{{- printf "pkcs11:token=%s;object=%s" (index . 0) (index . 1) -}}
{{- end -}}

{{/* Fixed paths inside the pod. */}}
{{- define "hallmark.dataRoot" -}}/var/lib/hallmark{{- end -}}
{{- define "hallmark.tokenDir" -}}/var/lib/hallmark/softhsm/tokens{{- end -}}
{{- define "hallmark.pinDir" -}}/etc/hallmark/pins{{- end -}}
{{- define "hallmark.rootPinDir" -}}/etc/hallmark/root-pins{{- end -}}
{{- define "hallmark.trustOut" -}}/var/run/hallmark/trust{{- end -}}

{{/* Environment every container running hallmark gets: config, HSM module and its wiring. */}}
{{- define "hallmark.env" -}}
- name: HALLMARK_CONFIG
  value: /etc/hallmark/config/config.yaml
- name: RUST_LOG
  value: {{ .Values.server.logLevel | quote }}
- name: HALLMARK_LOG_FORMAT
  value: {{ .Values.server.logFormat | quote }}
{{- if eq .Values.hsm.mode "softhsm" }}
- name: SOFTHSM2_CONF
  value: /etc/hallmark/config/softhsm2.conf
{{- else if eq .Values.hsm.mode "p11kit" }}
- name: P11_KIT_SERVER_ADDRESS
  value: {{ printf "unix:path=%s/pkcs11.sock" .Values.hsm.p11kit.socketDir | quote }}
{{- else if eq .Values.hsm.mode "pkcs11" }}
{{- with .Values.hsm.pkcs11.env }}
{{ toYaml . }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Volume mounts every container running hallmark gets (PINs are mounted separately). */}}
{{- define "hallmark.mounts" -}}
- name: config
  mountPath: /etc/hallmark/config
  readOnly: true
- name: data
  mountPath: {{ include "hallmark.dataRoot" . }}
{{- if eq .Values.storage.backend "postgres" }}
- name: ca-certificates
  mountPath: {{ include "hallmark.dataRoot" . }}/data/ca
  readOnly: true
{{- end }}
- name: tmp
  mountPath: /tmp
{{- range .Values.oidc.caBundles }}
- name: {{ printf "oidc-ca-%s" .name }}
  mountPath: {{ printf "/etc/hallmark/oidc-ca/%s" .name }}
  readOnly: true
{{- end }}
{{- if and .Values.oidc.kubernetes.enabled .Values.oidc.kubernetes.useClusterCA }}
- name: oidc-ca-kubernetes
  mountPath: /etc/hallmark/oidc-ca/kubernetes
  readOnly: true
{{- end }}
{{- if eq .Values.hsm.mode "pkcs11" }}
- name: pkcs11-module
  mountPath: {{ .Values.hsm.pkcs11.moduleMountPath }}
  readOnly: true
{{- if .Values.hsm.pkcs11.configSecret.name }}
- name: pkcs11-config
  mountPath: {{ .Values.hsm.pkcs11.configSecret.mountPath }}
  readOnly: true
{{- end }}
{{- else if eq .Values.hsm.mode "p11kit" }}
- name: p11kit-socket
  mountPath: {{ .Values.hsm.p11kit.socketDir }}
{{- end }}
{{- end -}}

{{- define "hallmark.probe" -}}
httpGet:
  path: {{ index . 0 }}
  port: http
periodSeconds: {{ (index . 1).periodSeconds }}
failureThreshold: {{ (index . 1).failureThreshold }}
timeoutSeconds: 3
{{- end -}}

{{/* Cross-field checks the schema cannot express readably. */}}
{{- define "hallmark.validate" -}}
{{- $v := .Values -}}
{{- if eq $v.storage.backend "postgres" -}}
{{- if eq $v.hsm.mode "softhsm" -}}
{{- fail "storage.backend postgres: every replica must use the same keys, so hsm.mode must be pkcs11 or p11kit (a network HSM), not softhsm (tokens inside each pod)" -}}
{{- end -}}
{{- if empty $v.storage.postgres.urlSecret.name -}}
{{- fail "storage.postgres.urlSecret.name: storage.backend postgres needs the Secret holding the database URL" -}}
{{- end -}}
{{- if empty $v.storage.caCertificatesConfigMap -}}
{{- fail "storage.caCertificatesConfigMap: storage.backend postgres needs the ConfigMap with the CA's root.pem and issuing.pem (from hallmark ca init, run once)" -}}
{{- end -}}
{{- else if gt (int $v.replicas) 1 -}}
{{- fail "replicas: more than 1 needs storage.backend postgres (the redb files have a single writer)" -}}
{{- end -}}
{{- if eq $v.oidc.format "hallmark" -}}
{{- if and (empty $v.oidc.issuers) (empty $v.oidc.metaIssuers) (not $v.oidc.kubernetes.enabled) -}}
{{- fail "oidc: no issuers: list oidc.issuers or oidc.metaIssuers, or enable oidc.kubernetes (Hallmark refuses to start without an issuer)" -}}
{{- end -}}
{{- $names := list -}}
{{- range $v.oidc.caBundles }}{{ $names = append $names .name }}{{ end -}}
{{- range (concat $v.oidc.issuers $v.oidc.metaIssuers) -}}
{{- if and .caBundle (not (has .caBundle $names)) -}}
{{- fail (printf "oidc: issuer %s names caBundle %q, which is not in oidc.caBundles" .url .caBundle) -}}
{{- end -}}
{{- end -}}
{{- else -}}
{{- if $v.oidc.kubernetes.enabled -}}
{{- fail "oidc.kubernetes.enabled: works with oidc.format hallmark only; with fulcio, add the cluster's issuer (Type kubernetes) to oidc.fulcioConfig.OIDCIssuers and set oidc.kubernetes.enabled false" -}}
{{- end -}}
{{- if empty $v.oidc.fulcioConfig -}}
{{- fail "oidc.fulcioConfig: empty, but oidc.format is fulcio: paste your Fulcio config (OIDCIssuers / MetaIssuers) there" -}}
{{- end -}}
{{- end -}}
{{- if and (eq $v.hsm.mode "pkcs11") (empty $v.hsm.pkcs11.moduleVolume) -}}
{{- fail "hsm.pkcs11.moduleVolume: hsm.mode pkcs11 needs the volume that holds the vendor module" -}}
{{- end -}}
{{- if and $v.ingress.enabled (not $v.ingress.host) -}}
{{- fail "ingress.host: required when ingress.enabled is true" -}}
{{- end -}}
{{- end -}}
