package flags

import "strings"

// semver is a parsed semantic version in the syntax flagd accepts for
// sem_ver (golang.org/x/mod/semver's, after flagd prefixes a missing
// "v"): MAJOR[.MINOR[.PATCH[-PRERELEASE][+BUILD]]], the short forms only
// without prerelease and build, no leading zeros in numbers or numeric
// prerelease identifiers. Missing minor and patch count as 0.
type semver struct {
	major, minor, patch string
	pre                 string // without the "-"; empty when none
}

// parseSemver parses v, which may start with "v" or "V" (flagd's
// normalization), without allocating.
func parseSemver(v string) (semver, bool) {
	if strings.HasPrefix(v, "v") {
		v = v[1:]
	} else {
		v = strings.TrimPrefix(v, "V")
	}
	var s semver
	var ok bool
	if s.major, v, ok = semverNum(v); !ok {
		return semver{}, false
	}
	s.minor, s.patch = "0", "0"
	if v == "" {
		return s, true
	}
	if v[0] != '.' {
		return semver{}, false
	}
	if s.minor, v, ok = semverNum(v[1:]); !ok {
		return semver{}, false
	}
	if v == "" {
		return s, true
	}
	if v[0] != '.' {
		return semver{}, false
	}
	if s.patch, v, ok = semverNum(v[1:]); !ok {
		return semver{}, false
	}
	if v != "" && v[0] == '-' {
		end := strings.IndexByte(v, '+')
		if end < 0 {
			end = len(v)
		}
		s.pre = v[1:end]
		if !semverIdents(s.pre, true) {
			return semver{}, false
		}
		v = v[end:]
	}
	if v != "" && v[0] == '+' {
		if !semverIdents(v[1:], false) {
			return semver{}, false
		}
		v = ""
	}
	return s, v == ""
}

// semverNum splits a decimal number without leading zeros off v.
func semverNum(v string) (num, rest string, ok bool) {
	i := 0
	for i < len(v) && '0' <= v[i] && v[i] <= '9' {
		i++
	}
	if i == 0 || (v[0] == '0' && i != 1) {
		return "", "", false
	}
	return v[:i], v[i:], true
}

// semverIdents reports whether v is a non-empty dot-separated list of
// non-empty [0-9A-Za-z-] identifiers; numeric ones may not have leading
// zeros when strict (prerelease).
func semverIdents(v string, strict bool) bool {
	for {
		dot := strings.IndexByte(v, '.')
		id := v
		if dot >= 0 {
			id = v[:dot]
		}
		if id == "" {
			return false
		}
		numeric := true
		for i := 0; i < len(id); i++ {
			c := id[i]
			switch {
			case '0' <= c && c <= '9':
			case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', c == '-':
				numeric = false
			default:
				return false
			}
		}
		if strict && numeric && len(id) > 1 && id[0] == '0' {
			return false
		}
		if dot < 0 {
			return true
		}
		v = v[dot+1:]
	}
}

// compareNum compares two decimal numbers without leading zeros.
func compareNum(a, b string) int {
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

// compare orders versions by semantic versioning precedence; build
// metadata is ignored.
func (s semver) compare(t semver) int {
	if c := compareNum(s.major, t.major); c != 0 {
		return c
	}
	if c := compareNum(s.minor, t.minor); c != 0 {
		return c
	}
	if c := compareNum(s.patch, t.patch); c != 0 {
		return c
	}
	return comparePrerelease(s.pre, t.pre)
}

func comparePrerelease(a, b string) int {
	if a == b {
		return 0
	}
	if a == "" {
		return 1
	}
	if b == "" {
		return -1
	}
	for a != "" && b != "" {
		var x, y string
		x, a, _ = strings.Cut(a, ".")
		y, b, _ = strings.Cut(b, ".")
		if x == y {
			continue
		}
		xn, yn := isDigits(x), isDigits(y)
		switch {
		case xn && yn:
			return compareNum(x, y)
		case xn:
			return -1
		case yn:
			return 1
		}
		return strings.Compare(x, y)
	}
	switch {
	case a == "" && b == "":
		return 0
	case a == "":
		return -1
	}
	return 1
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
