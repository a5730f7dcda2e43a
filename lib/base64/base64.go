// Package base64 is k8sh's base64 module: the encoding of a Secret's data.
package base64

import (
	"encoding/base64"
	"fmt"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/k8sh/k8sh/lib/doc"
)

// Module is the base64 module:
//
//	base64.encode(s, url=False)   str
//	base64.decode(s, url=False)   str
var Module = &starlarkstruct.Module{
	Name: "base64",
	Members: starlark.StringDict{
		"encode": doc.Builtin("base64.encode", `base64.encode(s, url=False)

Returns the base64 encoding of s (a str or bytes), padded with "=" to a
multiple of 4 characters: the standard alphabet (A-Z, a-z, 0-9, +, /) of
RFC 4648, the one of a Secret's data, or with url=True the URL-safe one
(- and _ for + and /).
  k8s.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
             "data": {"password": base64.encode("s3cr3t")}})`, encode),
		"decode": doc.Builtin("base64.decode", `base64.decode(s, url=False)

Returns the data that the base64 text s (a str or bytes) encodes, as a str
(a Starlark str holds any bytes). The alphabet is the standard one, or with
url=True the URL-safe one. The "=" padding may be left out (as in JSON Web
Tokens); newlines are ignored. Anything else, such as a character of the
other alphabet, is an error that says at which byte.
  password = base64.decode(k8s.get("secret", "db").data.password)`, decode),
	},
}

// encodings are the padded and the unpadded encoding of each alphabet.
var encodings = map[bool][2]*base64.Encoding{
	false: {base64.StdEncoding, base64.RawStdEncoding},
	true:  {base64.URLEncoding, base64.RawURLEncoding},
}

// textArg unpacks a str or bytes argument.
type textArg string

func (a *textArg) Unpack(v starlark.Value) error {
	switch v := v.(type) {
	case starlark.String:
		*a = textArg(v)
	case starlark.Bytes:
		*a = textArg(v)
	default:
		return fmt.Errorf("got %s, want str or bytes", v.Type())
	}
	return nil
}

func encode(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var s textArg
	url := false
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "s", &s, "url?", &url); err != nil {
		return nil, err
	}
	return starlark.String(encodings[url][0].EncodeToString([]byte(s))), nil
}

func decode(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var s textArg
	url := false
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "s", &s, "url?", &url); err != nil {
		return nil, err
	}
	enc := encodings[url][0]
	if n := len(strings.NewReplacer("\r", "", "\n", "").Replace(string(s))); n%4 != 0 && !strings.HasSuffix(string(s), "=") {
		enc = encodings[url][1] // no padding
	}
	data, err := enc.DecodeString(string(s))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	return starlark.String(data), nil
}
