package http

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/strata-dev/strata/command"
)

// hostile is a string value no field may mangle or run: path and query delimiters, an
// escaped slash, a dot segment, quotes, a newline, shell and template syntax, non-ASCII.
const hostile = "a/b?c=d&e#f %2F ../\"q'\n$(id) ${env.name} {{.}} ü"

// fill sets every field of the struct v to a value other than its zero value.
func fill(t *testing.T, v reflect.Value) {
	t.Helper()
	for i := range v.NumField() {
		f := v.Field(i)
		if tag := v.Type().Field(i).Tag; tag.Get("json") == "-" && tag.Get("path") == "" && tag.Get("query") == "" {
			continue // local to the process, never sent (a path on the client's machine)
		}
		switch f.Kind() {
		case reflect.String:
			f.SetString(hostile + v.Type().Field(i).Name)
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Int, reflect.Int64:
			f.SetInt(int64(7 + i))
		case reflect.Map:
			f.Set(reflect.ValueOf(map[string]string{"k": hostile}))
		case reflect.Slice:
			// Two elements, each a hostile string or a struct of filled fields (a train's members).
			sl := reflect.MakeSlice(f.Type(), 2, 2)
			for j := range 2 {
				switch el := sl.Index(j); el.Kind() {
				case reflect.String:
					el.SetString(fmt.Sprintf("%s%s%d", hostile, v.Type().Field(i).Name, j))
				case reflect.Struct:
					fill(t, el)
				default:
					t.Fatalf("no sample value for an element of field %s of kind %s", v.Type().Field(i).Name, el.Kind())
				}
			}
			f.Set(sl)
		default:
			t.Fatalf("no sample value for field %s of kind %s", v.Type().Field(i).Name, f.Kind())
		}
	}
}

// TestEveryDeclaredRequestSurvivesTheTrip sends a request of every declared command, each
// field holding a hostile value, through the client (send) to a real server whose mux has
// only that command's route and reads it with the server's decodeRequest: the request read
// is the request sent, so the client's path reaches the route and every field travels.
func TestEveryDeclaredRequestSurvivesTheTrip(t *testing.T) {
	for _, d := range command.All() {
		info := d.Declared()
		t.Run(info.Name+" arrives as it was sent", func(t *testing.T) {
			s := &Server{log: slog.New(slog.DiscardHandler)}
			mux := http.NewServeMux()
			mux.HandleFunc(info.Route, func(w http.ResponseWriter, r *http.Request) {
				req := reflect.New(d.Request())
				c := &call{w: w, r: r}
				if err := c.decodeRequest(req.Interface()); err != nil {
					s.writeJSON(w, r, http.StatusBadRequest, errorDoc{Error: errorBody{Code: "invalid", Message: err.Error()}})
					return
				}
				s.writeJSON(w, r, http.StatusOK, fmt.Sprintf("%#v", req.Elem().Interface()))
			})
			srv := httptest.NewServer(mux)
			t.Cleanup(srv.Close)
			c, err := NewClient(srv.URL, "")
			if err != nil {
				t.Fatal(err)
			}
			sent := reflect.New(d.Request()).Elem()
			fill(t, sent)
			var got string
			if _, err := c.send(context.Background(), d, sent.Interface(), &got); err != nil {
				t.Fatal(err)
			}
			if want := fmt.Sprintf("%#v", sent.Interface()); got != want {
				t.Errorf("the server read\n%s\nwant\n%s", got, want)
			}
		})
	}
}
