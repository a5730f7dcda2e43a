package kube

import (
	"fmt"
	"os"
	"path/filepath"

	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// KustomizationFile is the name of the kustomization file in dir
// ("kustomization.yaml", "kustomization.yml" or "Kustomization"), "" when
// it holds none: what makes kubectl apply -k take a directory.
func KustomizationFile(dir string) string {
	for _, name := range konfig.RecognizedKustomizationFileNames() {
		if fi, err := os.Stat(filepath.Join(dir, name)); err == nil && fi.Mode().IsRegular() {
			return name
		}
	}
	return ""
}

// Kustomize builds the kustomization in dir as kubectl apply -k and kubectl
// kustomize do (sigs.k8s.io/kustomize/api's krusty, with kubectl's options:
// files only from under the kustomization's root, the legacy order that
// puts Namespaces and CRDs first, no plugins), and returns the YAML stream
// of the built objects.
func Kustomize(dir string) ([]byte, error) {
	opts := krusty.MakeDefaultOptions()
	opts.Reorder = krusty.ReorderOptionLegacy
	m, err := krusty.MakeKustomizer(opts).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize %s: %w", dir, err)
	}
	out, err := m.AsYaml()
	if err != nil {
		return nil, fmt.Errorf("kustomize %s: %w", dir, err)
	}
	return out, nil
}
