package catalog

import (
	"errors"
	"fmt"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// This file reads YAML at the level of its syntax tree rather than decoding it
// into structs: a struct decoder stops at the first mistake, and a catalog
// author deserves every mistake at once, each with its line and column.

// Issue is one mistake in a catalog file.
type Issue struct {
	Line, Column int
	Path         string // where in the document: "models[3].price"
	Message      string
}

func (i Issue) String() string {
	var b strings.Builder
	if i.Line > 0 {
		fmt.Fprintf(&b, "line %d col %d: ", i.Line, i.Column)
	}
	if i.Path != "" {
		b.WriteString(i.Path)
		b.WriteString(": ")
	}
	b.WriteString(i.Message)
	return b.String()
}

// tree walks a parsed document and collects issues.
type tree struct {
	issues  []Issue
	anchors map[string]ast.Node
}

func (t *tree) errorf(n ast.Node, path, format string, args ...any) {
	is := Issue{Path: path, Message: fmt.Sprintf(format, args...)}
	if n != nil && n.GetToken() != nil {
		is.Line, is.Column = n.GetToken().Position.Line, n.GetToken().Position.Column
	}
	t.issues = append(t.issues, is)
}

// parse reads data into a syntax tree. A syntax error is reported with its
// position. goccy/go-yaml is well fuzzed, but a parser bug must never take the
// server down while it reloads a catalog, so a panic becomes an issue too.
func (t *tree) parse(data []byte) (root ast.Node) {
	defer func() {
		if r := recover(); r != nil {
			t.errorf(nil, "", "the YAML parser failed on this file (%v)", r)
			root = nil
		}
	}()
	if line, col, ok := tooDeep(data); !ok {
		t.issues = append(t.issues, Issue{Line: line, Column: col, Message: fmt.Sprintf("nested more than %d levels deep; a catalog needs a handful", maxDepth)})
		return nil
	}
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		var ye yaml.Error
		if errors.As(err, &ye) && ye.GetToken() != nil {
			tok := ye.GetToken()
			t.issues = append(t.issues, Issue{Line: tok.Position.Line, Column: tok.Position.Column, Message: "YAML syntax: " + ye.GetMessage()})
		} else {
			t.errorf(nil, "", "YAML syntax: %v", err)
		}
		return nil
	}
	if len(f.Docs) == 0 || (len(f.Docs) == 1 && f.Docs[0].Body == nil) {
		t.errorf(nil, "", "the file is empty; a catalog needs version, effective_at and models")
		return nil
	}
	if len(f.Docs) != 1 {
		t.errorf(nil, "", "want exactly one YAML document, found %d", len(f.Docs))
		return nil
	}
	t.anchors = map[string]ast.Node{}
	ast.Walk(anchorCollector(t.anchors), f.Docs[0].Body)
	return f.Docs[0].Body
}

type anchorCollector map[string]ast.Node

func (a anchorCollector) Visit(n ast.Node) ast.Visitor {
	if an, ok := n.(*ast.AnchorNode); ok && an.Name != nil {
		a[an.Name.GetToken().Value] = an.Value
	}
	return a
}

// resolve looks through anchors, aliases and tags to the node that holds the value.
func (t *tree) resolve(n ast.Node) ast.Node {
	for depth := 0; n != nil && depth < 16; depth++ {
		switch v := n.(type) {
		case *ast.AnchorNode:
			n = v.Value
		case *ast.TagNode:
			n = v.Value
		case *ast.AliasNode:
			if v.Value == nil {
				return nil
			}
			n = t.anchors[v.Value.GetToken().Value]
		default:
			return n
		}
	}
	return nil
}

// field is one key of a mapping, with the handler of its value.
type field struct {
	name string
	set  func(n ast.Node, path string)
}

// mapping checks that n is a mapping, reports unknown and repeated keys, and
// calls each field's handler with its value. It returns the keys present.
func (t *tree) mapping(n ast.Node, path string, fields ...field) map[string]bool {
	seen := map[string]bool{}
	n = t.resolve(n)
	var pairs []*ast.MappingValueNode
	switch m := n.(type) {
	case *ast.MappingNode:
		pairs = m.Values
	case *ast.MappingValueNode:
		pairs = []*ast.MappingValueNode{m}
	default:
		t.errorf(n, path, "want a mapping of keys to values, found %s", describe(n))
		return seen
	}
	for _, p := range pairs {
		key := p.Key.GetToken().Value
		if _, merge := p.Key.(*ast.MergeKeyNode); merge {
			t.errorf(p.Key, path, "merge keys (<<) are not supported; repeat the fields or use an alias for a whole value")
			continue
		}
		if seen[key] {
			t.errorf(p.Key, join(path, key), "key %q appears twice", key)
			continue
		}
		seen[key] = true
		var f *field
		for i := range fields {
			if fields[i].name == key {
				f = &fields[i]
			}
		}
		if f == nil {
			names := make([]string, len(fields))
			for i := range fields {
				names[i] = fields[i].name
			}
			t.errorf(p.Key, path, "unknown key %q (want one of %s)", key, strings.Join(names, ", "))
			continue
		}
		f.set(p.Value, join(path, key))
	}
	return seen
}

// entries returns the key/value pairs of a mapping whose keys are data (a price
// per resolution, a factor per scale), in document order.
func (t *tree) entries(n ast.Node, path string) []*ast.MappingValueNode {
	switch m := t.resolve(n).(type) {
	case *ast.MappingNode:
		return m.Values
	case *ast.MappingValueNode:
		return []*ast.MappingValueNode{m}
	default:
		t.errorf(n, path, "want a mapping, found %s", describe(n))
		return nil
	}
}

// sequence returns the items of a list.
func (t *tree) sequence(n ast.Node, path string) []ast.Node {
	s, ok := t.resolve(n).(*ast.SequenceNode)
	if !ok {
		t.errorf(n, path, "want a list, found %s", describe(n))
		return nil
	}
	return s.Values
}

// scalar returns the text of a scalar exactly as written (73.5 stays "73.5";
// no float64 is ever made from a price).
func (t *tree) scalar(n ast.Node, path string) (string, bool) {
	switch v := t.resolve(n).(type) {
	case *ast.StringNode:
		return v.Value, true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.LiteralNode:
		return v.GetToken().Value, true
	}
	t.errorf(n, path, "want a single value, found %s", describe(n))
	return "", false
}

func describe(n ast.Node) string {
	switch n.(type) {
	case nil, *ast.NullNode:
		return "nothing"
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.AliasNode:
		return "an alias to an unknown anchor"
	}
	return fmt.Sprintf("%q", n.GetToken().Value)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// maxDepth bounds nesting. The YAML parser's cost grows with the square of the
// depth, so a small hostile file could exhaust memory; a catalog needs ~5 levels.
const maxDepth = 32

// tooDeep scans the raw text for flow nesting ([ {) or block indentation beyond
// maxDepth, before the parser sees it. It skips quoted strings and comments.
func tooDeep(data []byte) (line, col int, ok bool) {
	depth := 0
	line, col = 1, 0
	atLineStart, indent := true, 0
	for i := 0; i < len(data); i++ {
		c := data[i]
		col++
		if c == '\n' {
			line, col, atLineStart, indent = line+1, 0, true, 0
			continue
		}
		if atLineStart {
			if c == ' ' || c == '-' {
				indent++
				if indent > 2*maxDepth {
					return line, col, false
				}
				continue
			}
			atLineStart = false
		}
		switch c {
		case '#':
			if i == 0 || data[i-1] == ' ' || data[i-1] == '\t' || data[i-1] == '\n' {
				for i+1 < len(data) && data[i+1] != '\n' {
					i++
				}
			}
		case '"', '\'':
			for i++; i < len(data) && data[i] != c && data[i] != '\n'; i++ {
				if c == '"' && data[i] == '\\' {
					i++
				}
			}
		case '[', '{':
			if depth++; depth > maxDepth {
				return line, col, false
			}
		case ']', '}':
			depth--
		}
	}
	return 0, 0, true
}
