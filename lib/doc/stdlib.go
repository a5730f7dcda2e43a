package doc

import (
	"go.starlark.net/lib/json"
	starlarkmath "go.starlark.net/lib/math"
	starlarktime "go.starlark.net/lib/time"
)

// The documentation of the modules k8sh takes from go.starlark.net (json,
// time, math) and of the struct builtin, for help() and docs/reference.
// go.starlark.net names some of its builtins without their module ("now",
// "ceil"); Module maps each builtin to the dotted name of its
// documentation.
func init() {
	Module(json.Module, map[string]string{
		"encode": `json.encode(x)

Returns the JSON encoding of x: None, bools, ints (of any size), floats,
strings, lists, tuples, dicts (string keys), structs and k8s.object values.
  print(json.encode(k8s.get("cm", "app").data))`,
		"encode_indent": `json.encode_indent(x, *, prefix="", indent="\t")

Returns the JSON encoding of x, indented: json.indent(json.encode(x), ...).`,
		"decode": `json.decode(x, default=<fail>)

Returns the Starlark value of the JSON text x: objects become dicts, arrays
lists, numbers ints or floats (with a decimal point). When x is not valid
JSON it fails, or returns default when one is given.
  pods = json.decode(sys.stdin_read())["items"]`,
		"indent": `json.indent(str, *, prefix="", indent="\t")

Returns the JSON text str pretty-printed: each line starts with prefix and
each level is indented by indent.`,
	})

	Module(starlarktime.Module, map[string]string{
		"now": `time.now()

Returns the current local time, a time value: t.year, t.month, t.day,
t.hour, t.minute, t.second, t.nanosecond, t.unix, t.unix_nano,
t.format(layout) (Go's layouts: "2006-01-02 15:04"), t.in_location(name).
Times compare with < and ==; t1 - t2 is a duration; t + d and t - d are
times.
  age = time.now() - time.parse_time(pod.metadata.creationTimestamp)`,
		"parse_time": `time.parse_time(x, format="2006-01-02T15:04:05Z07:00", location="UTC")

Returns the time that the string x denotes in Go's layout format (RFC 3339
by default: the form of Kubernetes timestamps) and the named location.`,
		"parse_duration": `time.parse_duration(d)

Returns the duration that the string d denotes: "300ms", "1.5h", "2h45m"
(units ns, us, ms, s, m, h). A duration has d.hours, d.minutes, d.seconds,
d.milliseconds, d.microseconds, d.nanoseconds; durations add, subtract,
compare, and multiply or divide by numbers (d / time.second is a float).`,
		"from_timestamp": `time.from_timestamp(sec, nsec=0)

Returns the time sec seconds (and nsec nanoseconds) after January 1,
1970 UTC.`,
		"time": `time.time(year=0, month=1, day=1, hour=0, minute=0, second=0, nanosecond=0, location="UTC")

Returns the time yyyy-mm-dd hh:mm:ss + nanosecond in location.`,
		"is_valid_timezone": `time.is_valid_timezone(loc)

Reports whether loc is the name of a time zone ("Europe/Paris", "UTC").`,
		"nanosecond":  "time.nanosecond\n\nThe duration of one nanosecond.",
		"microsecond": "time.microsecond\n\nThe duration of one microsecond.",
		"millisecond": "time.millisecond\n\nThe duration of one millisecond.",
		"second":      "time.second\n\nThe duration of one second: 30 * time.second.",
		"minute":      "time.minute\n\nThe duration of one minute.",
		"hour":        "time.hour\n\nThe duration of one hour: 24 * time.hour is a day.",
	})

	math := map[string]string{
		"ceil":      "ceil(x)\n\nReturns the ceiling of x, the smallest integer greater than or equal to x.",
		"floor":     "floor(x)\n\nReturns the floor of x, the largest integer less than or equal to x.",
		"round":     "round(x)\n\nReturns the nearest integer to x, rounding half away from zero.",
		"fabs":      "fabs(x)\n\nReturns the absolute value of x, as a float.",
		"copysign":  "copysign(x, y)\n\nReturns a value with the magnitude of x and the sign of y.",
		"mod":       "mod(x, y)\n\nReturns the floating-point remainder of x/y, with the sign of x.",
		"remainder": "remainder(x, y)\n\nReturns the IEEE 754 floating-point remainder of x/y.",
		"pow":       "pow(x, y)\n\nReturns x raised to the power y.",
		"exp":       "exp(x)\n\nReturns e raised to the power x.",
		"sqrt":      "sqrt(x)\n\nReturns the square root of x.",
		"log":       "log(x, base=e)\n\nReturns the logarithm of x in base (the natural logarithm by default).",
		"gamma":     "gamma(x)\n\nReturns the Gamma function of x.",
		"hypot":     "hypot(x, y)\n\nReturns sqrt(x*x + y*y), the length of the vector (x, y).",
		"degrees":   "degrees(x)\n\nConverts the angle x from radians to degrees.",
		"radians":   "radians(x)\n\nConverts the angle x from degrees to radians.",
		"sin":       "sin(x)\n\nReturns the sine of x, in radians.",
		"cos":       "cos(x)\n\nReturns the cosine of x, in radians.",
		"tan":       "tan(x)\n\nReturns the tangent of x, in radians.",
		"asin":      "asin(x)\n\nReturns the arc sine of x, in radians.",
		"acos":      "acos(x)\n\nReturns the arc cosine of x, in radians.",
		"atan":      "atan(x)\n\nReturns the arc tangent of x, in radians.",
		"atan2":     "atan2(y, x)\n\nReturns atan(y / x), in radians, between -pi and pi: the signs of both tell the quadrant.",
		"sinh":      "sinh(x)\n\nReturns the hyperbolic sine of x.",
		"cosh":      "cosh(x)\n\nReturns the hyperbolic cosine of x.",
		"tanh":      "tanh(x)\n\nReturns the hyperbolic tangent of x.",
		"asinh":     "asinh(x)\n\nReturns the inverse hyperbolic sine of x.",
		"acosh":     "acosh(x)\n\nReturns the inverse hyperbolic cosine of x.",
		"atanh":     "atanh(x)\n\nReturns the inverse hyperbolic tangent of x.",
		"e":         "e\n\nThe base of natural logarithms, 2.718281828459045.",
		"pi":        "pi\n\nThe ratio of a circle's circumference to its diameter, 3.141592653589793.",
	}
	for name, doc := range math {
		math[name] = "math." + doc
	}
	math["ceil"] += "\nAll math functions take ints and floats."
	Module(starlarkmath.Module, math)

	docs["struct"] = `struct(**kwargs)

Returns a struct: an immutable value whose fields are the keyword
arguments, read as attributes.
  r = struct(name="web", ready=True)
  print(r.name, r.ready)`
}
