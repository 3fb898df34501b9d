package k8s

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/kustomize/api/krusty"
	kustomize "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// objectTypes are the kinds a manifest here may be, by "apiVersion kind",
// each with the API type it decodes into.
var objectTypes = map[string]func() any{
	"apps/v1 Deployment":            func() any { return new(appsv1.Deployment) },
	"v1 Service":                    func() any { return new(corev1.Service) },
	"policy/v1 PodDisruptionBudget": func() any { return new(policyv1.PodDisruptionBudget) },
	"v1 ConfigMap":                  func() any { return new(corev1.ConfigMap) },
	"v1 Secret":                     func() any { return new(corev1.Secret) },
	"batch/v1 Job":                  func() any { return new(batchv1.Job) },
	"kustomize.config.k8s.io/v1beta1 Kustomization": func() any { return new(kustomize.Kustomization) },
}

// notManifests are the YAML files under deploy/k8s that are no Kubernetes
// object: the roster the ConfigMap is generated from.
var notManifests = map[string]bool{"base/roster.yaml": true}

// decodeStrict decodes one YAML document into the API type its apiVersion
// and kind name. It fails on a field that type does not have (matched
// case-sensitively, as the API server matches them: encoding/json would
// take "readinessprobe" for readinessProbe), on a duplicate key, and on a
// kind these manifests do not use. A document of comments only is nil.
func decodeStrict(doc []byte) (any, error) {
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return nil, err
	}
	if bytes.Equal(bytes.TrimSpace(js), []byte("null")) {
		return nil, nil
	}
	var tm metav1.TypeMeta
	if err := json.Unmarshal(js, &tm); err != nil {
		return nil, err
	}
	newObject, ok := objectTypes[tm.APIVersion+" "+tm.Kind]
	if !ok {
		return nil, fmt.Errorf("apiVersion %q, kind %q: not a kind these manifests use", tm.APIVersion, tm.Kind)
	}
	obj := newObject()
	strict, err := sigsjson.UnmarshalStrict(js, obj)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", tm.Kind, err)
	}
	if len(strict) > 0 {
		return nil, fmt.Errorf("%s: %w", tm.Kind, errors.Join(strict...))
	}
	return obj, nil
}

// documentSeparator splits a YAML stream into its documents.
var documentSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// decodeAll decodes every document of a YAML stream strictly, leaving out
// those of comments only.
func decodeAll(stream []byte) ([]any, error) {
	var objs []any
	for i, doc := range documentSeparator.Split(string(stream), -1) {
		obj, err := decodeStrict([]byte(doc))
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		if obj != nil {
			objs = append(objs, obj)
		}
	}
	return objs, nil
}

// render builds dir as `kubectl apply -k dir` does (files outside dir's
// tree refused, no plugins) and returns the YAML stream it would apply.
func render(dir string) ([]byte, error) {
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	return m.AsYaml()
}

// mustRender renders dir and decodes what it renders strictly.
func mustRender(tb testing.TB, dir string) []any {
	tb.Helper()
	out, err := render(dir)
	if err != nil {
		tb.Fatal(err)
	}
	objs, err := decodeAll(out)
	if err != nil {
		tb.Fatalf("kustomize build %s: %v", dir, err)
	}
	return objs
}

func mustRead(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// TestEveryManifestDecodesStrictly decodes every YAML file under deploy/k8s
// as it is written, kustomization files and patches included: kustomize
// itself passes an unknown field of a Deployment through unremarked, and
// the API server would drop or refuse it only at apply time.
func TestEveryManifestDecodesStrictly(t *testing.T) {
	var files []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "testdata" {
			return filepath.SkipDir
		}
		ext := filepath.Ext(path)
		if !d.IsDir() && (ext == ".yaml" || ext == ".yml") && !notManifests[filepath.ToSlash(path)] {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// base: kustomization, deployment, service, pdb; two overlays of two
	// files each; the Secret's example.
	if len(files) < 9 {
		t.Fatalf("found %d manifests (%v), want at least 9: is the walk looking in the right place?", len(files), files)
	}
	for _, path := range files {
		t.Run(filepath.ToSlash(path), func(t *testing.T) {
			objs, err := decodeAll(mustRead(t, path))
			if err != nil {
				t.Fatal(err)
			}
			if len(objs) == 0 {
				t.Fatal("no object in the file")
			}
		})
	}
}

// wantComment is the first line of each file in testdata/misspelt: the text
// the decoding error must contain.
var wantComment = regexp.MustCompile(`^# want: (.+)\n`)

// TestMisspeltFieldsAreRejected proves the decoding above catches what it is
// for: each file in testdata/misspelt has one mistake, named in its first
// line, and a kustomization that renders a misspelt Deployment without a
// murmur from kustomize fails once decoded.
func TestMisspeltFieldsAreRejected(t *testing.T) {
	files, err := filepath.Glob("testdata/misspelt/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no file in testdata/misspelt")
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			b := mustRead(t, path)
			m := wantComment.FindSubmatch(b)
			if m == nil {
				t.Fatalf("the first line is not # want: <part of the error>")
			}
			_, err := decodeAll(b)
			if err == nil {
				t.Fatalf("decoded without an error, want one containing %q", m[1])
			}
			if !strings.Contains(err.Error(), string(m[1])) {
				t.Fatalf("got error %q, want one containing %q", err, m[1])
			}
		})
	}

	t.Run("rendered", func(t *testing.T) {
		out, err := render("testdata/misspelt-render")
		if err != nil {
			t.Fatalf("kustomize refused it (%v); this case is about what kustomize lets through", err)
		}
		const want = `unknown field "spec.template.spec.containers[0].livenessprobe"`
		_, err = decodeAll(out)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("got error %v, want one containing %q", err, want)
		}
	})
}

// TestDecodeStrictTakesOnlyKnownKinds: a kind these manifests do not use is
// an error, not an object decoded into nothing.
func TestDecodeStrictTakesOnlyKnownKinds(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{"unknown kind", "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n", `kind "Pod": not a kind`},
		{"wrong group", "apiVersion: extensions/v1beta1\nkind: Deployment\n", `"extensions/v1beta1"`},
		{"no kind", "metadata: {name: x}\n", `kind "": not a kind`},
		{"duplicate key", "apiVersion: v1\nkind: Service\nkind: Service\n", `already set in map`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeStrict([]byte(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
	obj, err := decodeStrict([]byte("# only a comment\n"))
	if obj != nil || err != nil {
		t.Fatalf("a document of comments: got %v, %v; want nil, nil", obj, err)
	}
}

// secretKeys returns the keys of secret.example.yaml, sorted.
func secretKeys(tb testing.TB) []string {
	tb.Helper()
	obj, err := decodeStrict(mustRead(tb, "secret.example.yaml"))
	if err != nil {
		tb.Fatal(err)
	}
	s, ok := obj.(*corev1.Secret)
	if !ok {
		tb.Fatalf("secret.example.yaml holds a %T, want a Secret", obj)
	}
	if s.Name != secretName {
		tb.Fatalf("secret.example.yaml names %q, want %q", s.Name, secretName)
	}
	if len(s.Data) > 0 {
		tb.Fatal("secret.example.yaml has data: write placeholders in stringData, readable as what they stand for")
	}
	var keys []string
	for k := range s.StringData {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
