package redis_test

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/firebreak/firebreak/adapters/redis"
)

// TestFailOpsAreFixed: the operation fail and failOn are given is the op
// label of firebreak_redis_errors_total, so it must be a string literal,
// never built from an ID or a key (one series per incident otherwise).
func TestFailOpsAreFixed(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	calls := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			if id, ok := call.Fun.(*ast.Ident); !ok || (id.Name != "fail" && id.Name != "failOn" && id.Name != "failWrite") {
				return true
			}
			calls++
			if lit, ok := call.Args[0].(*ast.BasicLit); !ok || lit.Kind != token.STRING {
				t.Errorf("%s: the operation of %s is not a string literal", fset.Position(call.Pos()), call.Fun.(*ast.Ident).Name)
			}
			return true
		})
	}
	if calls < 40 {
		t.Errorf("got %d calls of fail and failOn, want the adapter's 50 or so: is the test reading the right files?", calls)
	}
}

// TestFailuresAreCounted: an operation that fails is counted by its
// operation, without the incident ID.
func TestFailuresAreCounted(t *testing.T) {
	client := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	t.Cleanup(func() { _ = client.Close() })
	s := redis.New(client, redis.Options{Prefix: "fb-test-failures"})
	before := redis.Failures()["load incident"]
	for range 3 {
		if _, err := s.Get(context.Background(), "YQ-7"); err == nil {
			t.Fatal("Get against a closed port: got no error")
		}
	}
	got := redis.Failures()
	if n := got["load incident"] - before; n != 3 {
		t.Errorf(`Failures()["load incident"]: got %d more, want 3`, n)
	}
	for op := range got {
		if strings.Contains(op, "YQ-7") {
			t.Errorf("operation %q names the incident", op)
		}
	}
}
