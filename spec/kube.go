package spec

// Kubernetes object envelope shared by every kind.

type objectMeta struct {
	Name                       string            `json:"name"`
	Namespace                  string            `json:"namespace"`
	Labels                     map[string]string `json:"labels"`
	Annotations                map[string]string `json:"annotations"`
	GenerateName               skip              `json:"generateName" why:"Kubernetes object metadata"`
	UID                        skip              `json:"uid" why:"Kubernetes object metadata"`
	ResourceVersion            skip              `json:"resourceVersion" why:"Kubernetes object metadata"`
	Generation                 skip              `json:"generation" why:"Kubernetes object metadata"`
	CreationTimestamp          skip              `json:"creationTimestamp" why:"Kubernetes object metadata"`
	DeletionTimestamp          skip              `json:"deletionTimestamp" why:"Kubernetes object metadata"`
	DeletionGracePeriodSeconds skip              `json:"deletionGracePeriodSeconds" why:"Kubernetes object metadata"`
	OwnerReferences            skip              `json:"ownerReferences" why:"Kubernetes object metadata"`
	Finalizers                 skip              `json:"finalizers" why:"Kubernetes object metadata"`
	ManagedFields              skip              `json:"managedFields" why:"Kubernetes object metadata"`
	SelfLink                   skip              `json:"selfLink" why:"Kubernetes object metadata"`
}

// typeMeta is read first to pick the kind.
type typeMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
}
