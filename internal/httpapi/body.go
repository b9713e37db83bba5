package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"reflect"

	"github.com/danielgtaylor/huma/v2"
)

// Request bodies are read once. huma reads a JSON body twice: into a
// map[string]any to validate it against the schema, then into the input
// struct. Most bodies are plain objects whose schema asks nothing a struct
// decode and a look at their keys cannot tell: known fields, spelt exactly,
// every required one present, strings, integers, numbers and booleans where
// the schema says so, no null where it is not allowed. Such a body is decoded
// once, straight into the struct. Any other body — malformed, with an unknown
// or misspelt field, a wrong type, a null, a field with an enum or bounds —
// is read as huma always read it, map, schema validation, struct, so that
// every refusal is the very problem it was before: the fast path only ever
// accepts what the schema accepts.
//
// The operations that take a jsonBody skip huma's own validation
// (SkipValidateBody, set by bodyOp); bodyFormats routes their JSON to
// jsonBody's decoder, which keeps its refusals for huma to report through
// Resolve.

// jsonBody is a JSON request body of type T, decoded once. The OpenAPI
// document describes it as T.
type jsonBody[T any] struct {
	Value T
	errs  []error
}

// bodyReader is what bodyFormats decodes into.
type bodyReader interface {
	readBody(d *bodyDecoder, data []byte)
}

func (b *jsonBody[T]) readBody(d *bodyDecoder, data []byte) {
	b.errs = d.decode(reflect.TypeFor[T](), data, &b.Value, func() { b.Value = *new(T) })
}

// Resolve reports the body's refusals (huma.Resolver), after huma has read
// the request's other parameters, as its own validation did.
func (b *jsonBody[T]) Resolve(huma.Context) []error { return b.errs }

// Schema describes the body as T (huma.SchemaProvider).
func (jsonBody[T]) Schema(r huma.Registry) *huma.Schema {
	return r.Schema(reflect.TypeFor[T](), true, "")
}

// bodyStatus sets the status of a refusal that huma's validation would have
// given another status than 422 (400 for JSON that does not parse). It carries
// no text of its own: humaError skips it.
type bodyStatus int

func (s bodyStatus) Error() string  { return http.StatusText(int(s)) }
func (s bodyStatus) GetStatus() int { return int(s) }

// bodyDecoder decodes the bodies of one API against its schema registry.
// Its plans are made while routes are registered, before serving, and only
// read afterwards.
type bodyDecoder struct {
	registry huma.Registry
	plans    map[reflect.Type]*bodyPlan
}

func newBodyDecoder(r huma.Registry) *bodyDecoder {
	return &bodyDecoder{registry: r, plans: map[reflect.Type]*bodyPlan{}}
}

// formats returns huma's JSON format with its Unmarshal reading jsonBody
// targets through d; every other target (none today) decodes as before.
func (d *bodyDecoder) formats() map[string]huma.Format {
	f := huma.Format{
		Marshal: func(w io.Writer, v any) error {
			enc := json.NewEncoder(w)
			enc.SetEscapeHTML(false)
			return enc.Encode(v)
		},
		Unmarshal: d.unmarshal,
	}
	return map[string]huma.Format{"application/json": f, "json": f}
}

// registerBody is huma.Register for an operation whose input may carry a
// jsonBody.
func registerBody[I, O any](s *Server, op huma.Operation, h func(context.Context, *I) (*O, error)) {
	bodyOp[I](s.bodies, &op)
	huma.Register(s.api, op, h)
}

// bodyOp marks op, whose input is I, as reading its body once, when I's Body
// is a jsonBody, and plans how to read it.
func bodyOp[I any](d *bodyDecoder, op *huma.Operation) {
	f, ok := reflect.TypeFor[I]().FieldByName("Body")
	if !ok {
		return
	}
	t := f.Type
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if !reflect.PointerTo(t).Implements(reflect.TypeFor[bodyReader]()) {
		return
	}
	op.SkipValidateBody = true
	v, _ := t.FieldByName("Value")
	if _, ok := d.plans[v.Type]; !ok {
		d.plans[v.Type] = newBodyPlan(d.registry, d.registry.Schema(v.Type, false, ""))
	}
}

// unmarshal is the JSON format's Unmarshal. huma hands it the input's Body
// field: a *jsonBody[T], or a **jsonBody[T] for an optional body.
func (d *bodyDecoder) unmarshal(data []byte, v any) error {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer && rv.Elem().Kind() == reflect.Pointer {
		if rv.Elem().IsNil() {
			rv.Elem().Set(reflect.New(rv.Elem().Type().Elem()))
		}
		rv = rv.Elem()
	}
	if b, ok := rv.Interface().(bodyReader); ok {
		b.readBody(d, data)
		return nil
	}
	return json.Unmarshal(data, v)
}

// decode decodes data into v (a *T, zero) and returns the refusals, as
// huma's validation and decoding would have made them; reset zeroes v.
func (d *bodyDecoder) decode(t reflect.Type, data []byte, v any, reset func()) []error {
	p := d.plans[t]
	if p != nil && json.Unmarshal(data, v) == nil && p.accepts(data) {
		return nil
	}
	reset()
	// huma's reading, step by step (validateBody, then parseBodyInto).
	var parsed any
	if err := json.Unmarshal(data, &parsed); err != nil {
		return []error{&huma.ErrorDetail{Location: "body", Message: err.Error(), Value: string(data)}, bodyStatus(http.StatusBadRequest)}
	}
	pb := huma.NewPathBuffer(make([]byte, 0, 64), 0)
	pb.Push("body")
	res := &huma.ValidateResult{}
	huma.Validate(d.registry, d.registry.Schema(t, true, ""), pb, huma.ModeWriteToServer, parsed, res)
	if len(res.Errors) > 0 {
		return res.Errors
	}
	if err := json.Unmarshal(data, v); err != nil {
		return []error{&huma.ErrorDetail{Location: "body", Message: err.Error(), Value: string(data)}}
	}
	return nil
}

// bodyPlan is what a body of one type may hold to be read in one pass.
type bodyPlan struct {
	fields   map[string]fieldPlan
	required uint64 // bits of the required fields
	ok       bool   // false: every body of this type takes huma's path
}

// fieldPlan is one property the fast path accepts.
type fieldPlan struct {
	bit      uint64
	kind     string // string, integer, number, boolean
	nullable bool
	plain    bool // no constraint beyond its type
}

func newBodyPlan(r huma.Registry, s *huma.Schema) *bodyPlan {
	if s.Ref != "" {
		s = r.SchemaFromRef(s.Ref)
	}
	p := &bodyPlan{fields: map[string]fieldPlan{}}
	if s == nil || s.Type != "object" || len(s.Properties) > 64 || s.AdditionalProperties != false ||
		s.MinProperties != nil || s.MaxProperties != nil || len(s.DependentRequired) > 0 ||
		s.OneOf != nil || s.AnyOf != nil || s.AllOf != nil || s.Not != nil {
		return p
	}
	i := 0
	for name, f := range s.Properties {
		if f.Ref != "" {
			f = r.SchemaFromRef(f.Ref)
		}
		if f == nil {
			return p
		}
		p.fields[name] = fieldPlan{bit: 1 << i, kind: f.Type, nullable: f.Nullable, plain: plainField(f)}
		i++
	}
	for _, name := range s.Required {
		f, ok := p.fields[name]
		if !ok {
			return p
		}
		p.required |= f.bit
	}
	p.ok = true
	return p
}

// plainField reports whether f asks nothing of a value but its type.
func plainField(f *huma.Schema) bool {
	switch f.Type {
	case "string", "integer", "number", "boolean":
	default:
		return false
	}
	// huma checks a format only on strings (int64 on an integer documents it).
	return (f.Format == "" || f.Type != "string") && f.ContentEncoding == "" && f.Enum == nil && f.Minimum == nil &&
		f.ExclusiveMinimum == nil && f.Maximum == nil && f.ExclusiveMaximum == nil &&
		f.MultipleOf == nil && f.MinLength == nil && f.MaxLength == nil && f.Pattern == "" &&
		!f.ReadOnly && f.OneOf == nil && f.AnyOf == nil && f.AllOf == nil && f.Not == nil
}

// accepts reports whether data, JSON that json.Unmarshal has decoded into the
// struct, is an object the schema accepts as it is: each key a plain field,
// byte for byte, each value of the field's type, every required field there.
// Anything it is unsure of is false, never a refusal: huma then decides.
func (p *bodyPlan) accepts(data []byte) bool {
	if !p.ok {
		return false
	}
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return false
	}
	var seen uint64
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return p.required == 0 && skipSpace(data, i+1) == len(data)
	}
	for i < len(data) {
		// The key: a string without escapes, so that its bytes are its name.
		if data[i] != '"' {
			return false
		}
		end := i + 1
		for end < len(data) && data[end] != '"' && data[end] != '\\' {
			end++
		}
		if end >= len(data) || data[end] != '"' {
			return false
		}
		f, ok := p.fields[string(data[i+1:end])]
		if !ok || !f.plain {
			return false
		}
		seen |= f.bit
		i = skipSpace(data, end+1)
		if i >= len(data) || data[i] != ':' {
			return false
		}
		i = skipSpace(data, i+1)
		if i >= len(data) {
			return false
		}
		// The value: a scalar of the field's type.
		start := i
		switch c := data[i]; {
		case c == '"':
			if f.kind != "string" {
				return false
			}
			for i++; i < len(data) && data[i] != '"'; i++ {
				if data[i] == '\\' {
					i++
				}
			}
			i++
		case c == 'n':
			if !f.nullable {
				return false
			}
			i += len("null")
		case c == 't' || c == 'f':
			if f.kind != "boolean" {
				return false
			}
			for i < len(data) && data[i] >= 'a' && data[i] <= 'z' {
				i++
			}
		case c == '-' || c >= '0' && c <= '9':
			if f.kind != "number" && f.kind != "integer" {
				return false
			}
			for i < len(data) && (data[i] == '-' || data[i] == '+' || data[i] == '.' || data[i] == 'e' || data[i] == 'E' || data[i] >= '0' && data[i] <= '9') {
				if f.kind == "integer" && (data[i] < '0' || data[i] > '9') && !(data[i] == '-' && i == start) {
					return false
				}
				i++
			}
		default:
			return false
		}
		i = skipSpace(data, i)
		if i >= len(data) {
			return false
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case '}':
			return seen&p.required == p.required && skipSpace(data, i+1) == len(data)
		default:
			return false
		}
	}
	return false
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}
