package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/strata-dev/strata"
	"go.yaml.in/yaml/v3"
)

// decodeSchema reads a service's config schema: KEY: {type, default, enum, secret, from,
// description}. A key with no value is a string.
func (l *loader) decodeSchema(src *source, svc *strata.Service, n *yaml.Node, where string) {
	pairs, _ := l.mapping(src, n, where, "{PORT: {type: integer, default: 8080}}")
	for _, p := range pairs {
		at := src.pos(p.k)
		if !l.configKey(at, p.key, where) {
			continue
		}
		k := &strata.Key{Name: p.key, Type: strata.TypeString, Pos: at}
		l.decodeKey(src, k, p.v, fmt.Sprintf("schema of %s in %s", p.key, quote(svc.Name)))
		svc.Schema = append(svc.Schema, k)
	}
}

func (l *loader) decodeKey(src *source, k *strata.Key, n *yaml.Node, where string) {
	pairs, ok := l.mapping(src, n, where, "{type: integer, default: 8080}")
	if !ok {
		return
	}
	var fromPos, defaultPos, enumPos strata.Pos
	var enumNodes []*yaml.Node
	for _, p := range pairs {
		switch p.key {
		case "type":
			if s, ok := l.scalar(src, p.v, "type", "type: integer"); ok {
				if !slices.Contains(keyTypes, s) {
					l.errorf(src.pos(p.v), "type %q is not a config type%s; use string, integer, number or boolean", s, didYouMean(s, keyTypes))
					continue
				}
				k.Type = s
			}
		case "default":
			defaultPos = src.pos(p.k)
			if v, ok := l.value(src, p.v, "default of "+k.Name); ok {
				k.Default = &v
				if s, isStr := v.V.(string); isStr {
					l.addInterp(interp{s: s, at: v.Pos, what: "default of " + k.Name})
				}
			}
		case "enum":
			enumPos = src.pos(p.k)
			items, _ := l.sequence(src, p.v, "enum", "enum: [debug, info, warn, error]")
			enumNodes = items
			for _, it := range items {
				if v, ok := l.value(src, it, "an enum value of "+k.Name); ok {
					k.Enum = append(k.Enum, v.V)
				}
			}
			if len(items) == 0 {
				l.errorf(enumPos, "enum of %s is empty; list the allowed values or remove enum", k.Name)
			}
		case "secret":
			k.Secret, _ = l.boolean(src, p.v, "secret")
		case "from":
			fromPos = src.pos(p.v)
			if s, ok := l.scalar(src, p.v, "from", `from: "env:DATABASE_URL"`); ok {
				kind, rest, _ := strings.Cut(s, ":")
				if (kind != "env" && kind != "file") || rest == "" {
					l.errorf(fromPos, "from %q is not a secret source; write \"env:NAME\" or \"file:PATH\"", s)
					continue
				}
				k.From = s
			}
		case "description":
			k.Description, _ = l.scalar(src, p.v, "description", `description: "port the API listens on"`)
		default:
			l.errorf(src.pos(p.k), "%s", unknownKey(p.key, where, schemaKeys))
		}
	}
	// The type may follow enum and default in the file, so check them once all is read.
	enumOK := true
	for i, e := range k.Enum {
		if want := wantFor(&strata.Key{Type: k.Type}, e); want != "" && i < len(enumNodes) {
			l.errorf(src.pos(l.deref(src, enumNodes[i])), "enum value %s of %s is not of its type; the type %s wants %s", show(e), k.Name, k.Type, want)
			enumOK = false
		}
	}
	if k.Default != nil && !isTemplate(k.Default.V) && enumOK {
		if want := wantFor(k, k.Default.V); want != "" {
			l.errorf(k.Default.Pos, "default of %s is %s but its schema wants %s", k.Name, show(k.Default.V), want)
		}
	}
	if k.Secret && !defaultPos.IsZero() {
		l.errorf(defaultPos, "secret %s has a default; secrets never live in strata.yaml: remove the default and run `strata secret set ENV %s`", k.Name, k.Name)
	}
	if k.From != "" && !k.Secret {
		l.errorf(fromPos, "from is set but %s is not a secret; add secret: true or remove from", k.Name)
	}
}

// CheckValue reports whether v (a string, int64, float64 or bool) fits the schema entry k:
// its type, and its enum when it has one. A string fits a number type when it reads as one,
// so a value that interpolation produced can be checked too. The error says what k wants.
func CheckValue(k *strata.Key, v any) error {
	if want := wantFor(k, v); want != "" {
		return fmt.Errorf("%s is %s but wants %s", k.Name, show(v), want)
	}
	return nil
}

// wantFor returns "" when v fits k, else what k wants ("an integer", "one of a, b").
func wantFor(k *strata.Key, v any) string {
	got, ok := normalize(k.Type, v)
	if !ok {
		switch k.Type {
		case strata.TypeInteger:
			return "an integer"
		case strata.TypeNumber:
			return "a number"
		case strata.TypeBoolean:
			return "true or false"
		}
		return "a string"
	}
	if len(k.Enum) == 0 {
		return ""
	}
	for _, e := range k.Enum {
		if want, ok := normalize(k.Type, e); ok && want == got {
			return ""
		}
	}
	// Only a value that fits none pays for the list.
	names := make([]string, len(k.Enum))
	for i, e := range k.Enum {
		names[i] = fmt.Sprint(e)
	}
	return "one of " + strings.Join(names, ", ")
}

// normalize converts v to the Go value of a config type, if it can be read as one.
func normalize(typ string, v any) (any, bool) {
	switch typ {
	case strata.TypeInteger:
		switch x := v.(type) {
		case int64:
			return x, true
		case int:
			return int64(x), true
		case string:
			i, err := strconv.ParseInt(x, 10, 64)
			return i, err == nil
		}
	case strata.TypeNumber:
		switch x := v.(type) {
		case int64:
			return float64(x), true
		case int:
			return float64(x), true
		case float64:
			return x, true
		case string:
			f, err := strconv.ParseFloat(x, 64)
			return f, err == nil
		}
	case strata.TypeBoolean:
		switch x := v.(type) {
		case bool:
			return x, true
		case string:
			if x == "true" || x == "false" {
				return x == "true", true
			}
		}
	default:
		switch x := v.(type) {
		case string:
			return x, true
		case int64, int, float64, bool:
			return fmt.Sprint(x), true
		}
	}
	return nil, false
}

func show(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprint(v)
}

// isTemplate reports whether v is a string that interpolates, checked only after layering.
func isTemplate(v any) bool {
	s, ok := v.(string)
	return ok && strings.Contains(strings.ReplaceAll(s, "$${", ""), "${")
}
