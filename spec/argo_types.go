package spec

// The subset of Argo Rollouts' v1alpha1 API (argoproj.io/v1alpha1) that the
// loader reads, with the same JSON field names. Fields of type skip are
// accepted and listed as ignored; fields of type refuse are errors.

type argoTemplate struct {
	typeMeta
	Metadata objectMeta       `json:"metadata"`
	Spec     argoTemplateSpec `json:"spec"`
	Status   skip             `json:"status" why:"Kubernetes status"`
}

type argoTemplateSpec struct {
	Metrics              []argoMetric      `json:"metrics"`
	Args                 []argoArg         `json:"args"`
	DryRun               []argoMetricRef   `json:"dryRun"`
	MeasurementRetention []argoRetention   `json:"measurementRetention"`
	Templates            []argoTemplateRef `json:"templates"`
}

type argoArg struct {
	Name      string         `json:"name"`
	Value     *string        `json:"value"`
	ValueFrom *argoValueFrom `json:"valueFrom"`
}

type argoValueFrom struct {
	SecretKeyRef *argoSecretKeyRef `json:"secretKeyRef"`
	FieldRef     *argoFieldRef     `json:"fieldRef"`
}

type argoSecretKeyRef struct {
	Name string `json:"name"`
	Key  string `json:"key"`
}

type argoFieldRef struct {
	FieldPath string `json:"fieldPath"`
}

type argoMetricRef struct {
	MetricName string `json:"metricName"`
}

type argoRetention struct {
	MetricName string `json:"metricName"`
	Limit      int    `json:"limit"`
}

type argoTemplateRef struct {
	TemplateName string `json:"templateName"`
	ClusterScope *bool  `json:"clusterScope"`
}

type argoMetric struct {
	Name                    string       `json:"name"`
	Interval                string       `json:"interval"`
	InitialDelay            string       `json:"initialDelay"`
	Count                   located      `json:"count"`
	SuccessCondition        string       `json:"successCondition"`
	FailureCondition        string       `json:"failureCondition"`
	FailureLimit            located      `json:"failureLimit"`
	InconclusiveLimit       located      `json:"inconclusiveLimit"`
	ConsecutiveErrorLimit   located      `json:"consecutiveErrorLimit"`
	ConsecutiveSuccessLimit located      `json:"consecutiveSuccessLimit"`
	Provider                argoProvider `json:"provider"`
}

type argoProvider struct {
	Prometheus *argoPrometheus `json:"prometheus"`
	Web        *argoWeb        `json:"web"`
	Kayenta    refuse          `json:"kayenta" why:"Kayenta canary judgement needs a Kayenta server; glidepath's analysis/judge package offers a Mann-Whitney comparison in Go"`
	Job        refuse          `json:"job" why:"a Kubernetes Job as a metric needs a cluster; glidepath runs no jobs"`
	Datadog    refuse          `json:"datadog" why:"glidepath has no source for this metric provider; use prometheus or web"`
	Wavefront  refuse          `json:"wavefront" why:"glidepath has no source for this metric provider; use prometheus or web"`
	NewRelic   refuse          `json:"newRelic" why:"glidepath has no source for this metric provider; use prometheus or web"`
	CloudWatch refuse          `json:"cloudWatch" why:"glidepath has no source for this metric provider; use prometheus or web"`
	Graphite   refuse          `json:"graphite" why:"glidepath has no source for this metric provider; use prometheus or web"`
	Influxdb   refuse          `json:"influxdb" why:"glidepath has no source for this metric provider; use prometheus or web"`
	SkyWalking refuse          `json:"skywalking" why:"glidepath has no source for this metric provider; use prometheus or web"`
	Plugin     refuse          `json:"plugin" why:"Argo Rollouts metric plugins run inside its controller"`
}

type argoPrometheus struct {
	Address        string       `json:"address"`
	Query          string       `json:"query"`
	Authentication argoAuth     `json:"authentication"`
	Timeout        *int64       `json:"timeout"`
	Insecure       bool         `json:"insecure"`
	Headers        []argoHeader `json:"headers"`
	RangeQuery     refuse       `json:"rangeQuery" why:"range queries with expr start and end times are not mapped; write a range selector in the query, or use prometheus.Source.Range in Go"`
}

type argoAuth struct {
	Sigv4     refuse         `json:"sigv4" why:"AWS SigV4 signing is not built in; sign requests with your own http.RoundTripper in Go"`
	OAuth2    *argoOAuth2    `json:"oauth2"`
	BasicAuth *argoBasicAuth `json:"basicAuth"`
}

type argoOAuth2 struct {
	TokenURL     string   `json:"tokenUrl"`
	ClientID     string   `json:"clientId"`
	ClientSecret string   `json:"clientSecret"`
	Scopes       []string `json:"scopes"`
}

type argoBasicAuth struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type argoHeader struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type argoWeb struct {
	Method         string       `json:"method"`
	URL            string       `json:"url"`
	Headers        []argoHeader `json:"headers"`
	Body           string       `json:"body"`
	TimeoutSeconds *int64       `json:"timeoutSeconds"`
	JSONPath       string       `json:"jsonPath"`
	Insecure       bool         `json:"insecure"`
	JSONBody       opaque       `json:"jsonBody"`
	Authentication argoAuth     `json:"authentication"`
}

// Rollout.

type argoRollout struct {
	typeMeta
	Metadata objectMeta      `json:"metadata"`
	Spec     argoRolloutSpec `json:"spec"`
	Status   skip            `json:"status" why:"Kubernetes status"`
}

type argoRolloutSpec struct {
	Replicas                *int64       `json:"replicas"`
	Selector                skip         `json:"selector" why:"Kubernetes pod selection; a glidepath Target knows its instances"`
	Template                skip         `json:"template" why:"the pod template is the revision itself; give glidepath revision names"`
	WorkloadRef             skip         `json:"workloadRef" why:"Kubernetes workload reference"`
	MinReadySeconds         skip         `json:"minReadySeconds" why:"pod availability is the Target's readiness"`
	RollbackWindow          refuse       `json:"rollbackWindow" why:"fast-tracked rollbacks to recent revisions are not modelled; use rollback.Undo"`
	Strategy                argoStrategy `json:"strategy"`
	RevisionHistoryLimit    skip         `json:"revisionHistoryLimit" why:"ReplicaSet history; glidepath's history is rollback.Store"`
	Paused                  refuse       `json:"paused" why:"a paused spec is run-time state; start the release and call Rollout.Pause"`
	ProgressDeadlineSeconds *int64       `json:"progressDeadlineSeconds"`
	ProgressDeadlineAbort   bool         `json:"progressDeadlineAbort"`
	RestartAt               skip         `json:"restartAt" why:"pod restarts are a Kubernetes operation"`
	Analysis                skip         `json:"analysis" why:"AnalysisRun retention; glidepath keeps verdicts in Status and the journal"`
}

type argoStrategy struct {
	Canary    *argoCanary    `json:"canary"`
	BlueGreen *argoBlueGreen `json:"blueGreen"`
}

type argoRolloutAnalysis struct {
	Templates            []argoTemplateRef `json:"templates"`
	Args                 []argoRunArg      `json:"args"`
	DryRun               []argoMetricRef   `json:"dryRun"`
	MeasurementRetention []argoRetention   `json:"measurementRetention"`
	AnalysisRunMetadata  skip              `json:"analysisRunMetadata" why:"labels and annotations of AnalysisRun objects"`
}

type argoBackgroundAnalysis struct {
	argoRolloutAnalysis
	StartingStep *int64 `json:"startingStep"`
}

type argoRunArg struct {
	Name      string            `json:"name"`
	Value     string            `json:"value"`
	ValueFrom *argoRunValueFrom `json:"valueFrom"`
}

type argoRunValueFrom struct {
	PodTemplateHashValue *string       `json:"podTemplateHashValue"`
	FieldRef             *argoFieldRef `json:"fieldRef"`
}

type argoCanary struct {
	CanaryService               skip                    `json:"canaryService" why:"Kubernetes Service name; the Target routes to revisions"`
	StableService               skip                    `json:"stableService" why:"Kubernetes Service name; the Target routes to revisions"`
	Steps                       []argoStep              `json:"steps"`
	TrafficRouting              *argoTrafficRouting     `json:"trafficRouting"`
	MaxUnavailable              located                 `json:"maxUnavailable"`
	MaxSurge                    located                 `json:"maxSurge"`
	Analysis                    *argoBackgroundAnalysis `json:"analysis"`
	AntiAffinity                skip                    `json:"antiAffinity" why:"pod scheduling"`
	CanaryMetadata              skip                    `json:"canaryMetadata" why:"pod labels and annotations"`
	StableMetadata              skip                    `json:"stableMetadata" why:"pod labels and annotations"`
	ScaleDownDelaySeconds       skip                    `json:"scaleDownDelaySeconds" why:"delay for traffic providers to re-target pods after promotion; the Target applies the final State at once"`
	ScaleDownDelayRevisionLimit skip                    `json:"scaleDownDelayRevisionLimit" why:"ReplicaSet bookkeeping"`
	AbortScaleDownDelaySeconds  *int64                  `json:"abortScaleDownDelaySeconds"`
	DynamicStableScale          bool                    `json:"dynamicStableScale"`
	PingPong                    skip                    `json:"pingPong" why:"Kubernetes Service names"`
	MinPodsPerReplicaSet        refuse                  `json:"minPodsPerReplicaSet" why:"a floor on instances per revision is not modelled by canary.Config"`
	ReplicaProgressThreshold    refuse                  `json:"replicaProgressThreshold" why:"promotion with part of the instances ready is not modelled; glidepath waits for all of them"`
}

type argoTrafficRouting struct {
	Istio            skip   `json:"istio" why:"mesh plugin: the glidepath Target does the routing"`
	Nginx            skip   `json:"nginx" why:"ingress plugin: the glidepath Target does the routing"`
	ALB              skip   `json:"alb" why:"ingress plugin: the glidepath Target does the routing"`
	SMI              skip   `json:"smi" why:"mesh plugin: the glidepath Target does the routing"`
	Ambassador       skip   `json:"ambassador" why:"ingress plugin: the glidepath Target does the routing"`
	AppMesh          skip   `json:"appMesh" why:"mesh plugin: the glidepath Target does the routing"`
	Traefik          skip   `json:"traefik" why:"ingress plugin: the glidepath Target does the routing"`
	Apisix           skip   `json:"apisix" why:"ingress plugin: the glidepath Target does the routing"`
	Plugins          skip   `json:"plugins" why:"traffic router plugins: the glidepath Target does the routing"`
	ManagedRoutes    skip   `json:"managedRoutes" why:"route precedence inside the mesh; header routes are the Target's"`
	MaxTrafficWeight *int64 `json:"maxTrafficWeight"`
	Mirror           refuse `json:"mirror" why:"traffic mirroring is not modelled"`
}

type argoStep struct {
	SetWeight      *int64               `json:"setWeight"`
	Pause          *argoPause           `json:"pause"`
	Experiment     refuse               `json:"experiment" why:"experiments run extra ReplicaSets beside the rollout; glidepath has no experiments"`
	Analysis       *argoRolloutAnalysis `json:"analysis"`
	SetCanaryScale *argoCanaryScale     `json:"setCanaryScale"`
	SetHeaderRoute *argoHeaderRoute     `json:"setHeaderRoute"`
	SetMirrorRoute refuse               `json:"setMirrorRoute" why:"traffic mirroring is not modelled"`
	Plugin         refuse               `json:"plugin" why:"step plugins run inside the Argo Rollouts controller"`
}

type argoPause struct {
	Duration located `json:"duration"`
}

type argoCanaryScale struct {
	Weight             *int64 `json:"weight"`
	Replicas           *int64 `json:"replicas"`
	MatchTrafficWeight bool   `json:"matchTrafficWeight"`
}

type argoHeaderRoute struct {
	Name  string            `json:"name"`
	Match []argoHeaderMatch `json:"match"`
}

type argoHeaderMatch struct {
	HeaderName  string           `json:"headerName"`
	HeaderValue *argoStringMatch `json:"headerValue"`
}

type argoStringMatch struct {
	Exact  string `json:"exact"`
	Prefix string `json:"prefix"`
	Regex  string `json:"regex"`
}

type argoBlueGreen struct {
	ActiveService               skip                 `json:"activeService" why:"Kubernetes Service name; the Target routes to revisions"`
	PreviewService              skip                 `json:"previewService" why:"Kubernetes Service name; the Target routes to revisions"`
	PreviewReplicaCount         *int64               `json:"previewReplicaCount"`
	AutoPromotionEnabled        *bool                `json:"autoPromotionEnabled"`
	AutoPromotionSeconds        int64                `json:"autoPromotionSeconds"`
	MaxUnavailable              skip                 `json:"maxUnavailable" why:"applies to pod restarts only"`
	ScaleDownDelaySeconds       *int64               `json:"scaleDownDelaySeconds"`
	ScaleDownDelayRevisionLimit skip                 `json:"scaleDownDelayRevisionLimit" why:"ReplicaSet bookkeeping"`
	PrePromotionAnalysis        *argoRolloutAnalysis `json:"prePromotionAnalysis"`
	PostPromotionAnalysis       *argoRolloutAnalysis `json:"postPromotionAnalysis"`
	AntiAffinity                skip                 `json:"antiAffinity" why:"pod scheduling"`
	PreviewMetadata             skip                 `json:"previewMetadata" why:"pod labels and annotations"`
	ActiveMetadata              skip                 `json:"activeMetadata" why:"pod labels and annotations"`
	AbortScaleDownDelaySeconds  *int64               `json:"abortScaleDownDelaySeconds"`
}
