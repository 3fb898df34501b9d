// Package k8s holds the tests of Firebreak's Kubernetes manifests: the
// kustomizations under base/ and overlays/ are rendered as `kubectl apply -k`
// renders them, every document is decoded strictly into the Kubernetes API
// types (a misspelt field fails), and the result is checked against what the
// binary expects: its environment variables, its HTTP port and probe paths,
// its shutdown timeouts, the image's user; and store-init.sh is run against a
// fake kubectl to check the Job it makes.
//
// It is a module of its own, so that k8s.io/api and kustomize stay out of
// the product's go.mod; .ci/run runs it after the product's tests.
package k8s
