package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"

	yaml "go.yaml.in/yaml/v3"
)

// Limits bound what decoding untrusted input may cost. The zero value of
// each field means its default.
type Limits struct {
	// MaxBytes bounds the whole input (default [DefaultMaxBytes]).
	MaxBytes int
	// MaxDocuments bounds the number of "---"-separated documents
	// (default [DefaultMaxDocuments]).
	MaxDocuments int
	// MaxDepth bounds the nesting of mappings and sequences (default
	// [DefaultMaxDepth]).
	MaxDepth int
	// MaxNodes bounds the values of one document after alias expansion
	// (default [DefaultMaxNodes]), so a few aliases cannot expand into
	// billions of values.
	MaxNodes int
}

// Default limits.
const (
	DefaultMaxBytes     = 4 << 20
	DefaultMaxDocuments = 1000
	DefaultMaxDepth     = 64
	DefaultMaxNodes     = 200_000
)

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxBytes, DefaultMaxBytes)
	def(&l.MaxDocuments, DefaultMaxDocuments)
	def(&l.MaxDepth, DefaultMaxDepth)
	def(&l.MaxNodes, DefaultMaxNodes)
	return l
}

// kinds of node.
const (
	kNull = iota
	kScalar
	kMap
	kSeq
)

// node is a YAML or JSON value with aliases expanded and merge keys
// applied: a mapping (ordered keys), a sequence or a scalar with its
// resolved tag ("str", "int", "float", "bool").
type node struct {
	kind  int
	tag   string
	str   string
	keys  []string
	vals  []*node
	items []*node
	line  int
}

func (n *node) get(key string) *node {
	if n == nil || n.kind != kMap {
		return nil
	}
	for i, k := range n.keys {
		if k == key {
			return n.vals[i]
		}
	}
	return nil
}

func (n *node) describe() string {
	switch n.kind {
	case kNull:
		return "null"
	case kMap:
		return "a mapping"
	case kSeq:
		return "a list"
	}
	switch n.tag {
	case "int", "float":
		return "the number " + n.str
	case "bool":
		return "the boolean " + n.str
	}
	return strconv.Quote(clip(n.str, 40)) + " (a string)"
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// document is one parsed document of the input.
type document struct {
	index int // 0-based position in the input
	root  *node
}

// errTooLarge and friends are the limit errors.
var errLimit = errors.New("input exceeds a decoding limit")

// readBounded reads r up to max bytes and fails beyond.
func readBounded(r io.Reader, max int) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, int64(max)+1))
	if err != nil {
		return nil, err
	}
	if len(b) > max {
		return nil, fmt.Errorf("%w: the input is larger than %d bytes", errLimit, max)
	}
	return b, nil
}

// parse splits data into documents and converts each to a node tree,
// within lim. Empty documents are skipped but keep their index.
func parse(data []byte, lim Limits) ([]document, []Problem) {
	if len(data) > lim.MaxBytes {
		return nil, []Problem{{Doc: -1, Msg: fmt.Sprintf("the input is %d bytes, more than the limit of %d", len(data), lim.MaxBytes)}}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []document
	var probs []Problem
	for i := 0; ; i++ {
		if i >= lim.MaxDocuments {
			probs = append(probs, Problem{Doc: -1, Msg: fmt.Sprintf("more than %d documents", lim.MaxDocuments)})
			break
		}
		var y yaml.Node
		err := decodeSafely(dec, &y)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			probs = append(probs, Problem{Doc: i, Msg: "not valid YAML or JSON: " + err.Error()})
			break // the parser cannot resynchronise
		}
		c := converter{lim: lim}
		root := c.convert(&y, 0)
		if c.err != "" {
			probs = append(probs, Problem{Doc: i, Line: c.errLine, Msg: c.err})
			continue
		}
		if c.dups != nil {
			probs = append(probs, c.dups...)
			for j := range probs[len(probs)-len(c.dups):] {
				probs[len(probs)-len(c.dups)+j].Doc = i
			}
			continue
		}
		if root == nil || root.kind == kNull {
			continue
		}
		docs = append(docs, document{index: i, root: root})
	}
	return docs, probs
}

// decodeSafely turns a panic of the YAML parser into an error, so that no
// input can crash the caller.
func decodeSafely(dec *yaml.Decoder, y *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("parser failure: %v", r)
		}
	}()
	return dec.Decode(y)
}

type converter struct {
	lim     Limits
	nodes   int
	err     string
	errLine int
	dups    []Problem
}

func (c *converter) fail(line int, msg string) *node {
	if c.err == "" {
		c.err, c.errLine = msg, line
	}
	return nil
}

func (c *converter) convert(y *yaml.Node, depth int) *node {
	if c.err != "" {
		return nil
	}
	c.nodes++
	if c.nodes > c.lim.MaxNodes {
		return c.fail(y.Line, fmt.Sprintf("more than %d values (after expanding aliases)", c.lim.MaxNodes))
	}
	if depth > c.lim.MaxDepth {
		return c.fail(y.Line, fmt.Sprintf("nested deeper than %d levels", c.lim.MaxDepth))
	}
	switch y.Kind {
	case yaml.DocumentNode:
		if len(y.Content) == 0 {
			return nil
		}
		return c.convert(y.Content[0], depth)
	case yaml.AliasNode:
		if y.Alias == nil {
			return c.fail(y.Line, "alias to nothing")
		}
		return c.convert(y.Alias, depth+1)
	case yaml.SequenceNode:
		n := &node{kind: kSeq, line: y.Line}
		for _, it := range y.Content {
			n.items = append(n.items, c.convert(it, depth+1))
		}
		return n
	case yaml.MappingNode:
		n := &node{kind: kMap, line: y.Line}
		seen := map[string]bool{}
		var merges []*node
		for i := 0; i+1 < len(y.Content); i += 2 {
			k, v := y.Content[i], y.Content[i+1]
			if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
				merges = append(merges, c.convert(v, depth+1))
				continue
			}
			key := k.Value
			if k.Kind != yaml.ScalarNode {
				// A mapping or list as a key (an unquoted {{args.x}} parses
				// as one): keep going under a name no field has, so the
				// field is reported where it matters.
				key = fmt.Sprintf("<non-scalar key at line %d>", k.Line)
			}
			if seen[key] {
				c.dups = append(c.dups, Problem{Line: k.Line, Msg: fmt.Sprintf("key %q appears twice in one mapping", key)})
				continue
			}
			seen[key] = true
			n.keys = append(n.keys, key)
			n.vals = append(n.vals, c.convert(v, depth+1))
		}
		for _, m := range merges {
			var srcs []*node
			switch {
			case m == nil:
			case m.kind == kMap:
				srcs = []*node{m}
			case m.kind == kSeq:
				srcs = m.items
			default:
				return c.fail(y.Line, "a merge key (<<) must refer to a mapping")
			}
			for _, s := range srcs {
				if s == nil || s.kind != kMap {
					return c.fail(y.Line, "a merge key (<<) must refer to a mapping")
				}
				for j, k := range s.keys {
					if !seen[k] {
						seen[k] = true
						n.keys = append(n.keys, k)
						n.vals = append(n.vals, s.vals[j])
					}
				}
			}
		}
		return n
	case yaml.ScalarNode:
		switch y.ShortTag() {
		case "!!null":
			return &node{kind: kNull, line: y.Line}
		case "!!int":
			return &node{kind: kScalar, tag: "int", str: y.Value, line: y.Line}
		case "!!float":
			return &node{kind: kScalar, tag: "float", str: y.Value, line: y.Line}
		case "!!bool":
			return &node{kind: kScalar, tag: "bool", str: y.Value, line: y.Line}
		case "!!str", "!!binary", "!!timestamp":
			return &node{kind: kScalar, tag: "str", str: y.Value, line: y.Line}
		}
		return c.fail(y.Line, fmt.Sprintf("unsupported YAML tag %s", y.ShortTag()))
	}
	return c.fail(y.Line, "unsupported YAML node")
}

// intValue reads an int scalar the way YAML 1.2 core schema resolves it.
func (n *node) intValue() (int64, bool) {
	if n.kind != kScalar || n.tag != "int" {
		return 0, false
	}
	var v int64
	if err := yaml.Unmarshal([]byte(n.str), &v); err != nil {
		return 0, false
	}
	return v, true
}

// floatValue reads an int or float scalar.
func (n *node) floatValue() (float64, bool) {
	if n.kind != kScalar || n.tag != "int" && n.tag != "float" {
		return 0, false
	}
	var v float64
	if err := yaml.Unmarshal([]byte(n.str), &v); err != nil {
		return 0, false
	}
	return v, true
}

// generic converts n to plain Go values (for opaque fields).
func (n *node) generic() any {
	if n == nil {
		return nil
	}
	switch n.kind {
	case kMap:
		m := make(map[string]any, len(n.keys))
		for i, k := range n.keys {
			m[k] = n.vals[i].generic()
		}
		return m
	case kSeq:
		s := make([]any, len(n.items))
		for i, it := range n.items {
			s[i] = it.generic()
		}
		return s
	case kScalar:
		switch n.tag {
		case "int":
			if v, ok := n.intValue(); ok {
				return v
			}
		case "float":
			if v, ok := n.floatValue(); ok {
				return v
			}
		case "bool":
			return n.str == "true" || n.str == "True" || n.str == "TRUE"
		}
		return n.str
	}
	return nil
}
