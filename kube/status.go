package kube

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// Status is what kstatus (sigs.k8s.io/cli-utils) computes of an object of
// any kind, CRDs included: "Current" (reconciled and healthy),
// "InProgress", "Failed", "Terminating", with a message saying why.
type Status struct {
	Status, Message string
}

// ComputeStatus is kstatus's verdict on obj, which must be a whole object
// as read from the server (apiVersion, kind, metadata, spec and status).
func ComputeStatus(obj map[string]any) (Status, error) {
	res, err := status.Compute(&unstructured.Unstructured{Object: obj})
	if err != nil {
		return Status{}, err
	}
	return Status{Status: res.Status.String(), Message: res.Message}, nil
}

// Current is kstatus's status of an object that is reconciled and healthy.
const Current = string(status.CurrentStatus)
