package command_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/strata-dev/strata/command"
)

// declaredVars returns the names of the package-level variables of package command whose
// value is a &Command[...]{...}: the declarations as the source has them.
func declaredVars(t *testing.T) []string {
	t.Helper()
	fset := token.NewFileSet()
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, e.Name(), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.VAR {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, v := range vs.Values {
					u, ok := v.(*ast.UnaryExpr)
					if !ok || u.Op != token.AND {
						continue
					}
					lit, ok := u.X.(*ast.CompositeLit)
					if !ok {
						continue
					}
					if idx, ok := lit.Type.(*ast.IndexListExpr); ok {
						if id, ok := idx.X.(*ast.Ident); ok && id.Name == "Command" {
							names = append(names, vs.Names[i].Name)
						}
					}
				}
			}
		}
	}
	return names
}

// TestEveryDeclarationIsInAll keeps All honest: a command declared in the source but left
// out of All would be neither served nor described.
func TestEveryDeclarationIsInAll(t *testing.T) {
	vars := declaredVars(t)
	all := command.All()
	if got, want := len(all), len(vars); got != want {
		t.Fatalf("All lists %d commands, the source declares %d (%s): add the new one to All", got, want, strings.Join(vars, ", "))
	}
	for i, d := range all {
		if slices.Contains(all[:i], d) {
			t.Errorf("All lists %s twice", d.Declared())
		}
	}
}

// TestDeclarationsAreDistinct checks no two commands share a name or a route, and that each
// says who may run it.
func TestDeclarationsAreDistinct(t *testing.T) {
	names, routes := map[string]bool{}, map[string]bool{}
	for _, d := range command.All() {
		info := d.Declared()
		if names[info.Name] {
			t.Errorf("two commands are named %q", info.Name)
		}
		if routes[info.Route] {
			t.Errorf("two commands have the route %s", info.Route)
		}
		names[info.Name], routes[info.Route] = true, true
		if info.Action == "" || info.Summary == "" {
			t.Errorf("%s has no action or no summary", info)
		}
	}
}
