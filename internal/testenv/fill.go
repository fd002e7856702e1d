package testenv

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"
)

// Fill sets every exported field of the struct v points to, recursively, to
// a non-zero value, except the fields named in skip (by path, such as
// "EditedAt" or "Sender.ID"). Strings are their field's path, so that each
// is told apart in an encoding. A field of a kind it cannot fill fails the
// test: a guard built on Fill notices every field added to a type.
func Fill(t testing.TB, v any, skip ...string) {
	t.Helper()
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		t.Fatalf("testenv.Fill: want a pointer to a struct, got %T", v)
	}
	fill(t, rv.Elem(), "", skip)
}

var (
	timeType = reflect.TypeFor[time.Time]()
	rawType  = reflect.TypeFor[json.RawMessage]()
)

func fill(t testing.TB, v reflect.Value, path string, skip []string) {
	t.Helper()
	switch {
	case v.Type() == timeType:
		v.Set(reflect.ValueOf(time.Date(2026, 12, 6, 7, 8, 9, 123_000_000, time.UTC)))
		return
	case v.Type() == rawType:
		v.SetBytes([]byte(`{"field":"` + path + `"}`))
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Type().Field(i)
			name := path + f.Name
			if !f.IsExported() || slices.Contains(skip, name) {
				continue
			}
			fill(t, v.Field(i), name+".", skip)
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(t, v.Elem(), path, skip)
	case reflect.String:
		v.SetString(path[:len(path)-1])
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(1)
	case reflect.Slice:
		if v.Type().Elem().Kind() != reflect.Uint8 {
			t.Fatalf("testenv.Fill: cannot fill %s (%s)", path, v.Type())
		}
		v.SetBytes([]byte(path))
	default:
		t.Fatalf("testenv.Fill: cannot fill %s (%s)", path, v.Type())
	}
}
