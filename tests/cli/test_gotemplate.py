"""dockyard.cli.gotemplate: Go text/template semantics and docker's functions.

Expected strings marked [N] come from step N of the real docker transcript
(/work/shared/reference/docker-walkthrough.txt).
"""

from __future__ import annotations

import json

import pytest

from dockyard.cli.gotemplate import (
    HEADER_FUNCS,
    MISSING,
    TemplateError,
    go_float,
    go_json,
    go_sprintf,
    go_str,
    parse,
    render,
)
from dockyard.errors import InvalidArgument

# `docker inspect debian:bookworm` (inspect/debian_bookworm.json), trimmed.
DEBIAN_INSPECT = r"""
{
  "Id": "sha256:c1bd18ffd33ce583462d001b2f4ace1c5b9ad50fd58e61ff99fe46341c514eb9",
  "RepoTags": ["debian:bookworm"],
  "RepoDigests": [],
  "Parent": "",
  "Comment": "Imported from -",
  "Created": "2026-11-28T16:47:27.855031758Z",
  "Container": "",
  "ContainerConfig": {"Hostname": "", "Domainname": "", "User": "", "Env": null,
                      "Cmd": null, "Image": "", "Volumes": null, "WorkingDir": "",
                      "Entrypoint": null, "OnBuild": null, "Labels": null},
  "DockerVersion": "20.10.24+dfsg1",
  "Author": "",
  "Config": {"Hostname": "", "Domainname": "", "User": "",
             "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
             "Cmd": ["bash"], "Image": "", "Volumes": null, "WorkingDir": "",
             "Entrypoint": null, "OnBuild": null, "Labels": null},
  "Architecture": "amd64",
  "Os": "linux",
  "Size": 116609356,
  "VirtualSize": 116609356,
  "GraphDriver": {"Data": {"MergedDir": "/var/lib/docker/overlay2/7546/merged"},
                  "Name": "overlay2"},
  "RootFS": {"Type": "layers",
             "Layers": ["sha256:1f6ae70ff7daefd98ac98cde3c62a3925ab84e0d9d9ef2a92ea10900a90e65a2"]},
  "Metadata": {"LastTagTime": "2026-11-28T17:20:23.856848408Z"}
}
"""

INSPECT_FORMAT = """Id={{.Id}}
Parent={{.Parent}}
Comment={{.Comment}}
Author={{.Author}}
Created={{.Created}}
Container={{.Container}}
DockerVersion={{.DockerVersion}}
Size={{.Size}} VirtualSize={{.VirtualSize}}
RepoTags={{json .RepoTags}} RepoDigests={{json .RepoDigests}}
Config.Cmd={{json .Config.Cmd}} Config.Env={{json .Config.Env}}
ContainerConfig.Cmd={{json .ContainerConfig.Cmd}}
ContainerConfig.Hostname={{.ContainerConfig.Hostname}}
RootFS={{json .RootFS}}
GraphDriver.Name={{.GraphDriver.Name}}
Metadata={{json .Metadata}}"""


def _sorted_pairs(pairs: list[tuple[str, object]]) -> dict[str, object]:
    return dict(sorted(pairs))


def test_inspect_format_step_26() -> None:
    # docker fell back to the raw JSON (a Go map: sorted keys) for this one.
    data = json.loads(DEBIAN_INSPECT, object_pairs_hook=_sorted_pairs)
    expected = """Id=sha256:c1bd18ffd33ce583462d001b2f4ace1c5b9ad50fd58e61ff99fe46341c514eb9
Parent=
Comment=Imported from -
Author=
Created=2026-11-28T16:47:27.855031758Z
Container=
DockerVersion=20.10.24+dfsg1
Size=116609356 VirtualSize=116609356
RepoTags=["debian:bookworm"] RepoDigests=[]
Config.Cmd=["bash"] Config.Env=["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
ContainerConfig.Cmd=null
ContainerConfig.Hostname=
RootFS={"Layers":["sha256:1f6ae70ff7daefd98ac98cde3c62a3925ab84e0d9d9ef2a92ea10900a90e65a2"],"Type":"layers"}
GraphDriver.Name=overlay2
Metadata={"LastTagTime":"2026-11-28T17:20:23.856848408Z"}"""
    assert render(INSPECT_FORMAT, data) == expected


def test_json_function_does_not_escape_html_step_27() -> None:
    # [27] Config.Cmd=["sh","-c","echo first_test! >> first"]
    data = {"Config": {"Cmd": ["sh", "-c", "echo first_test! >> first"]}}
    assert render("Config.Cmd={{json .Config.Cmd}}", data) == (
        'Config.Cmd=["sh","-c","echo first_test! >> first"]'
    )


def test_json_keeps_struct_order_steps_95_96() -> None:
    data = json.loads(DEBIAN_INSPECT)  # insertion order = Go struct order
    data["Config"] = {
        "Env": ["FOO=bar"],
        "Entrypoint": ["/bin/sh", "-c"],
        "WorkingDir": "/tmp",
        "Labels": {"a": "b"},
    }
    assert render("{{json .Config}}", data) == (
        '{"Env":["FOO=bar"],"Entrypoint":["/bin/sh","-c"],"WorkingDir":"/tmp","Labels":{"a":"b"}}'
    )
    assert render("RootFS={{json .RootFS}}", data) == (
        'RootFS={"Type":"layers","Layers":'
        '["sha256:1f6ae70ff7daefd98ac98cde3c62a3925ab84e0d9d9ef2a92ea10900a90e65a2"]}'
    )


def test_inspect_one_liners_steps_48_106_171() -> None:
    image = {
        "Id": "sha256:e8b048e7f9e4f7eab8568bd9d3a8e8ffbc94f2c012840b9f8a4edb0ba5a82d8e",
        "RepoTags": [],
    }
    assert render("{{.Id}} RepoTags={{json .RepoTags}}", image) == (
        "sha256:e8b048e7f9e4f7eab8568bd9d3a8e8ffbc94f2c012840b9f8a4edb0ba5a82d8e RepoTags=[]"
    )
    tags = ["127.0.0.1:5000/debian:bookworm", "debian:bookworm", "someuser/debian:12"]
    assert render("{{json .RepoTags}}", {"RepoTags": tags}) == (
        '["127.0.0.1:5000/debian:bookworm","debian:bookworm","someuser/debian:12"]'
    )
    exported = {
        "Id": "sha256:0d4a747733862b54f9c0eeea74896bddaa1e0d79e1f133d74fe9517fbf088dda",
        "RepoTags": ["exported:latest"],
    }
    assert render("{{.Id}} {{json .RepoTags}}", exported) == (
        "sha256:0d4a747733862b54f9c0eeea74896bddaa1e0d79e1f133d74fe9517fbf088dda"
        ' ["exported:latest"]'
    )


def test_history_format_step_39() -> None:
    template = parse("{{.ID}}|{{.CreatedBy}}|{{.Size}}|{{.Comment}}")
    rows = [
        ("16769d52c920", "sh -c echo second_test! >> second", "13B", "my second commit"),
        ("e8b048e7f9e4", "sh -c echo first_test! >> first", "12B", "my first commit"),
        ("c1bd18ffd33c", "", "117MB", "Imported from -"),
    ]
    out = [
        template.execute({"ID": i, "CreatedBy": c, "Size": s, "Comment": m}) for i, c, s, m in rows
    ]
    assert out == [
        "16769d52c920|sh -c echo second_test! >> second|13B|my second commit",
        "e8b048e7f9e4|sh -c echo first_test! >> first|12B|my first commit",
        "c1bd18ffd33c||117MB|Imported from -",
    ]


class PsRow:
    """Like docker's containerContext: fields are methods."""

    def __init__(self, names: str, image: str, status: str) -> None:
        self._names, self._image, self._status = names, image, status

    def Names(self) -> str:  # noqa: N802 - Go field names
        return self._names

    def Image(self) -> str:  # noqa: N802
        return self._image

    def Status(self) -> str:  # noqa: N802
        return self._status

    def Label(self, name: str) -> str:  # noqa: N802
        return {"a": "b"}.get(name, "")


def test_methods_are_called_step_118() -> None:
    template = parse("{{.Names}} {{.Image}} {{.Status}}")
    assert template.execute(PsRow("runner", "7f8994aa5e0f", "Up Less than a second")) == (
        "runner 7f8994aa5e0f Up Less than a second"
    )
    assert template.execute(
        PsRow("commit_test", "debian:bookworm", "Exited (0) 37 seconds ago")
    ) == ("commit_test debian:bookworm Exited (0) 37 seconds ago")


def test_method_with_arguments() -> None:
    row = PsRow("n", "i", "s")
    assert render('{{.Label "a"}}|{{.Label "x"}}|{{"a" | .Label}}', row) == "b||b"


class Obj:
    def __init__(self) -> None:
        self.Name = "x"
        self.Nested = {"Key": [1, 2]}
        self._private = 1

    @property
    def Upper(self) -> str:  # noqa: N802
        return self.Name.upper()


def test_object_attributes_and_properties() -> None:
    assert render("{{.Name}} {{.Upper}} {{index .Nested.Key 1}}", Obj()) == "x X 2"
    with pytest.raises(TemplateError, match="can't evaluate field Missing in type Obj"):
        render("{{.Missing}}", Obj())
    with pytest.raises(TemplateError, match="can't evaluate field _private"):
        render("{{._private}}", Obj())


# --- printing Go values -------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("s", "s"),
        (True, "true"),
        (False, "false"),
        (None, "<nil>"),
        (42, "42"),
        (-7, "-7"),
        (1.5, "1.5"),
        (3.0, "3"),
        (1e6, "1e+06"),
        (123456.0, "123456"),
        (1234567.0, "1.234567e+06"),
        (116609356.0, "1.16609356e+08"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (-2.5, "-2.5"),
        (0.0, "0"),
        (["a", "b", "c"], "[a b c]"),
        ([], "[]"),
        ([1, None, True, ["x"]], "[1 <nil> true [x]]"),
        ({"b": 1, "a": "x"}, "map[a:x b:1]"),
        ({}, "map[]"),
        ({"k": [1, 2]}, "map[k:[1 2]]"),
    ],
)
def test_go_str(value: object, expected: str) -> None:
    assert go_str(value) == expected
    assert render("{{.}}", value) == expected


def test_missing_key_prints_no_value() -> None:
    assert render("{{.Nope}}", {}) == "<no value>"
    assert render("{{.A.B.C}}", {}) == "<no value>"
    assert render("[{{.A}}]", {"A": None}) == "[<nil>]"
    assert render("{{print .Nope}}", {}) == "<nil>"


def test_nil_pointer_field() -> None:
    with pytest.raises(TemplateError, match=r"nil pointer evaluating interface \{\}\.B"):
        render("{{.A.B}}", {"A": None})


def test_go_float_special_values() -> None:
    assert go_float(float("nan")) == "NaN"
    assert go_float(float("inf")) == "+Inf"
    assert go_float(-0.0) == "-0"


# --- json ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "null"),
        (MISSING, "null"),
        (True, "true"),
        (3, "3"),
        (3.0, "3"),
        (1.5, "1.5"),
        (1e20, "100000000000000000000"),
        (1e21, "1e+21"),
        (1e-7, "1e-7"),
        (0.000001, "0.000001"),
        ('tab\tquote"back\\slash\u2028', '"tab\\tquote\\"back\\\\slash\\u2028"'),
        ("\x01\b\f", '"\\u0001\\b\\f"'),
        ("é ✓", '"é ✓"'),
        ("<a&b>", '"<a&b>"'),
        ([1, "a", None], '[1,"a",null]'),
        ({"b": 1, "a": {"c": []}}, '{"b":1,"a":{"c":[]}}'),
        (b"hi", '"aGk="'),
    ],
)
def test_go_json(value: object, expected: str) -> None:
    assert go_json(value) == expected


def test_go_json_escape_html() -> None:
    assert go_json({"Digest": "<none>", "x": "a&b"}, escape_html=True) == (
        '{"Digest":"\\u003cnone\\u003e","x":"a\\u0026b"}'
    )


def test_json_function_of_unsupported_value_is_empty() -> None:
    assert render("[{{json .}}]", float("nan")) == "[]"


# --- control flow ---------------------------------------------------------------


def test_if_else_chain() -> None:
    template = parse("{{if eq .N 1}}one{{else if eq .N 2}}two{{else}}many{{end}}")
    assert [template.execute({"N": n}) for n in (1, 2, 3)] == ["one", "two", "many"]


@pytest.mark.parametrize(
    ("value", "truth"),
    [
        (0, False),
        (1, True),
        (0.0, False),
        ("", False),
        ("x", True),
        ([], False),
        ([0], True),
        ({}, False),
        ({"a": 1}, True),
        (None, False),
        (False, False),
        (Obj(), True),
    ],
)
def test_truth(value: object, truth: bool) -> None:
    assert render("{{if .}}T{{else}}F{{end}}", value) == ("T" if truth else "F")
    assert render("{{if .Missing}}T{{else}}F{{end}}", {}) == "F"


def test_range_list_with_index() -> None:
    assert render("{{range $i, $v := .}}{{$i}}={{$v}} {{end}}", ["a", "b"]) == "0=a 1=b "
    assert render("{{range .}}<{{.}}>{{end}}", ["a", "b"]) == "<a><b>"
    assert render("{{range $v := .}}{{$v}}{{end}}", ["a", "b"]) == "ab"


def test_range_map_in_key_order() -> None:
    data = {"z": 1, "a": 2, "m": 3}
    assert render("{{range $k, $v := .}}{{$k}}:{{$v}};{{end}}", data) == "a:2;m:3;z:1;"
    assert render("{{range .}}{{.}}{{end}}", data) == "231"


def test_range_else_and_nil() -> None:
    template = parse("{{range .}}x{{else}}empty{{end}}")
    assert template.execute([]) == "empty"
    assert template.execute(None) == "empty"
    assert template.execute({}) == "empty"
    assert render("{{range .Nope}}x{{else}}none{{end}}", {}) == "none"


def test_range_int_break_continue() -> None:
    assert render("{{range 4}}{{.}}{{end}}", None) == "0123"
    text = "{{range .}}{{if eq . 2}}{{continue}}{{end}}{{if eq . 4}}{{break}}{{end}}{{.}}{{end}}"
    assert render(text, [1, 2, 3, 4, 5]) == "13"


def test_range_dot_and_dollar() -> None:
    data = {"Name": "top", "Items": [{"Name": "a"}, {"Name": "b"}]}
    assert render("{{range .Items}}{{.Name}}/{{$.Name}} {{end}}", data) == "a/top b/top "


def test_range_inspect_style() -> None:
    # docker inspect --format '{{range $k, $v := .Config.Labels}}{{$k}}={{$v}} {{end}}'
    data = {"Config": {"Labels": {"b": "2", "a": "1"}}}
    text = "{{range $k, $v := .Config.Labels -}} {{ $k }}={{ $v }} {{ end -}}"
    assert render(text, data) == "a=1 b=2 "


def test_with() -> None:
    template = parse("{{with .A}}a={{.}}{{else with .B}}b={{.}}{{else}}none{{end}}")
    assert template.execute({"A": "1"}) == "a=1"
    assert template.execute({"B": "2"}) == "b=2"
    assert template.execute({}) == "none"


def test_variables_and_scope() -> None:
    assert render("{{$x := .A}}{{$x}}{{$x = 2}}{{$x}}", {"A": 1}) == "12"
    assert render("{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}", None) == "2"
    assert render("{{if $x := .A}}{{$x}}{{end}}", {"A": "v"}) == "v"
    with pytest.raises(TemplateError, match='undefined variable "\\$x"'):
        parse("{{if true}}{{$x := 1}}{{end}}{{$x}}")
    assert render("{{$.A}}", {"A": "root"}) == "root"


def test_trim_markers_and_comments() -> None:
    assert render("a  {{- 1 -}}  b", None) == "a1b"
    assert render("a\n\t{{- /* comment */ -}}\n b", None) == "ab"
    assert render("x{{/* comment */}}y", None) == "xy"
    assert render("{{-3}}", None) == "-3"  # a negative number, not a trim marker


def test_pipelines_and_parentheses() -> None:
    assert render('{{.A | printf "%s-%s" "x"}}', {"A": "a"}) == "x-a"
    assert render("{{(index . 1).Name}}", [{"Name": "a"}, {"Name": "b"}]) == "b"
    assert render('{{len (split .A ",")}}', {"A": "a,b,c"}) == "3"
    assert render('{{"abc" | upper | lower}}', None) == "abc"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{{"a\\tb\\u00e9\\x41"}}', "a\tbéA"),
        ("{{`raw\\n`}}", "raw\\n"),
        ("{{'a'}}", "97"),
        ("{{0x1F}}", "31"),
        ("{{1_000}}", "1000"),
        ("{{1.0}}", "1"),
        ("{{1e3}}", "1000"),
        ("{{.5}}", "0.5"),
        ("{{true}} {{false}}", "true false"),
        ("{{010}}", "8"),
    ],
)
def test_literals(text: str, expected: str) -> None:
    assert render(text, None) == expected


# --- functions ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{{join .L ", "}}', "a, b, c"),
        ('{{split "a:b:c" ":"}}', "[a b c]"),
        ('{{split "ab" ""}}', "[a b]"),
        ('{{title "hello wORLD foo_bar x-y"}}', "Hello WORLD Foo_bar X-Y"),
        ('{{lower "ABC"}} {{upper "abc"}}', "abc ABC"),
        ('[{{pad "x" 2 1}}][{{pad "" 2 1}}]', "[  x ][]"),
        ('{{truncate "abcdef" 3}} {{truncate "ab" 3}}', "abc ab"),
        ('{{len .L}} {{len .M}} {{len "héllo"}}', "3 1 6"),
        ('{{index .L 0}} {{index .M "k"}} {{index .N 1 0}}', "a v 3"),
        ('[{{index .M "missing"}}]', "[]"),
        ('{{slice .L 1}} {{slice .L 1 2}} {{slice "abcd" 1 3}}', "[b c] [b] bc"),
        (
            '{{eq 1 1}} {{eq 1 2 1}} {{ne 1 2}} {{eq "a" "a"}} {{eq .Nope 1}}',
            "true true true true false",
        ),
        (
            '{{lt 1 2}} {{le 2 2}} {{gt 1 2}} {{ge 2 3}} {{lt "a" "b"}} {{lt 1 1.5}}',
            "true true false false true true",
        ),
        (
            '{{and 1 0 2}} {{and 1 2}} {{or 0 "" 3}} {{or 0 ""}} {{not 0}} {{not .L}}',
            "0 2 3  true false",
        ),
        ('{{print 1 2 "a" "b" 3}}', "1 2ab3"),
        ('{{println 1 "a"}}', "1 a\n"),
        ("{{html \"<a href='x'>&</a>\"}}", "&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt;"),
        ('{{urlquery "a b&c/d"}}', "a+b%26c%2Fd"),
    ],
)
def test_functions(text: str, expected: str) -> None:
    data = {"L": ["a", "b", "c"], "M": {"k": "v"}, "N": [[1], [3, 4]]}
    assert render(text, data) == expected


def test_and_or_short_circuit() -> None:
    # the second argument would fail if it were evaluated
    assert render("{{and .F .Nil.X}}", {"F": 0, "Nil": None}) == "0"
    assert render("{{or .T .Nil.X}}", {"T": "yes", "Nil": None}) == "yes"


@pytest.mark.parametrize(
    ("fmt", "args", "expected"),
    [
        ("%s|%d|%v|%q", ("a", 42, [1, 2], 'q"'), 'a|42|[1 2]|"q\\""'),
        (
            "%5s|%-5s|%05d|%x|%X|%o|%b|%c",
            ("ab", "ab", 42, 255, 255, 8, 5, 65),
            "   ab|ab   |00042|ff|FF|10|101|A",
        ),
        (
            "%.2f|%8.3f|%e|%g|%g",
            (3.14159, 2.0, 1234.5, 1e6, 0.5),
            "3.14|   2.000|1.234500e+03|1e+06|0.5",
        ),
        ("%t|%v|%v", (True, None, {"b": 2, "a": 1}), "true|<nil>|map[a:1 b:2]"),
        ("%q", (["a", "b"],), '["a" "b"]'),
        ("%.3s|%+d|%%", ("abcdef", 5), "abc|+5|%"),
        ("%d", ("x",), "%!d(string=x)"),
        ("%s", (5,), "%!s(int=5)"),
        ("%s %s", ("a",), "a %!s(MISSING)"),
        ("%s", ("a", 1, "b"), "a%!(EXTRA int=1, string=b)"),
        ("%T %T %T", (1, "s", 1.5), "int string float64"),
        ("%s", (None,), "%!s(<nil>)"),
        ("%6.2f%%", (99.5,), " 99.50%"),
    ],
)
def test_printf(fmt: str, args: tuple[object, ...], expected: str) -> None:
    assert go_sprintf(fmt, *args) == expected


def test_printf_in_template() -> None:
    assert render('{{printf "%-8s|%3d" .A .B}}', {"A": "ab", "B": 7}) == "ab      |  7"


def test_header_funcs_keep_titles() -> None:
    template = parse('{{json .A}}\t{{upper .B}}\t{{truncate .C 2}}\t{{join .D ","}}')
    headers = {"A": "ALPHA", "B": "beta", "C": "GAMMA", "D": "DELTA"}
    assert template.execute(headers, HEADER_FUNCS) == "ALPHA\tbeta\tGAMMA\tDELTA"


def test_custom_functions() -> None:
    template = parse("{{shout .}}", {"shout": lambda s: s.upper() + "!"})
    assert template.execute("hi") == "HI!"


def test_parse_once_execute_many() -> None:
    template = parse("{{.A}}")
    assert [template.execute({"A": i}) for i in range(3)] == ["0", "1", "2"]
    assert template.source == "{{.A}}"


# --- errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{{ .ID } }", 'template: :1: unexpected "}" in operand'),
        ("{{.ID}", "template: :1: bad character U+007D '}'"),
        ("{{.ID", "template: :1: unclosed action"),
        ("{{if .A}}x", "template: :1: unexpected EOF"),
        ("{{end}}", "template: :1: unexpected {{end}}"),
        ("{{else}}", "template: :1: unexpected {{else}}"),
        ("{{nosuch .A}}", 'template: :1: function "nosuch" not defined'),
        ("{{$x}}", 'template: :1: undefined variable "$x"'),
        ("{{}}", "template: :1: missing value for command"),
        ("{{if}}{{end}}", "template: :1: missing value for if"),
        ("{{break}}", "template: :1: {{break}} outside {{range}}"),
        ('a\nb\n{{"abc}}', "template: :3: unterminated quoted string"),
        ("{{3x}}", 'template: :1: bad number syntax: "3x"'),
        ("{{.A | 3}}", "template: :1: non executable command in pipeline stage 2"),
        ("{{(.A}}", "template: :1: unclosed left paren"),
        ("{{/* x", "template: :1: unclosed comment"),
        ("{{ .A :}}", "template: :1: expected :="),
        ("{{range .}}{{else}}{{else}}{{end}}", "template: :1: expected end; found {{else}}"),
        ('{{"\\q"}}', "template: :1: invalid syntax"),
        ("{{true.X}}", 'template: :1: unexpected . after term "true"'),
        ('{{"x".Y}}', 'template: :1: unexpected . after term "\\"x\\""'),
        ('{{1."x"}}', 'template: :1: unexpected "\\"x\\"" in operand'),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(TemplateError) as info:
        parse(text)
    assert info.value.go_message == message
    assert str(info.value) == "template parsing error: " + message
    assert isinstance(info.value, InvalidArgument)


def test_unsupported_actions_are_parse_errors() -> None:
    with pytest.raises(TemplateError, match="define"):
        parse('{{define "x"}}{{end}}')
    with pytest.raises(TemplateError, match="template"):
        parse('{{template "x"}}')


@pytest.mark.parametrize(
    ("text", "data", "message"),
    [
        (
            "{{.A.X}}",
            {"A": "s"},
            'template: :1:2: executing "" at <.A.X>: can\'t evaluate field X in type string',
        ),
        (
            "x\n {{index . 5}}",
            [1],
            'template: :2:3: executing "" at <index . 5>: error calling index: index out of range: 5',
        ),
        (
            "{{len 3}}",
            None,
            'template: :1:2: executing "" at <len 3>: error calling len: len of type int',
        ),
        (
            '{{eq "a" 1}}',
            None,
            'template: :1:2: executing "" at <eq "a" 1>: error calling eq: incompatible types for comparison',
        ),
        (
            "{{lt true false}}",
            None,
            'template: :1:2: executing "" at <lt true false>: error calling lt: invalid type for comparison',
        ),
        (
            "{{not}}",
            None,
            'template: :1:2: executing "" at <not>: wrong number of args for not: want 1 got 0',
        ),
        ("{{nil}}", None, 'template: :1:2: executing "" at <nil>: nil is not a command'),
        (
            "{{1 2}}",
            None,
            'template: :1:2: executing "" at <1>: can\'t give argument to non-function 1',
        ),
        (
            "{{.A 1}}",
            {"A": 1},
            'template: :1:2: executing "" at <.A>: A is not a method but has arguments',
        ),
        (
            '{{join "a" ","}}',
            None,
            'template: :1:2: executing "" at <join "a" ",">: error calling join: wrong type for value; expected []string; got string',
        ),
        (
            "{{range .}}{{end}}",
            "str",
            'template: :1:8: executing "" at <.>: range can\'t iterate over str',
        ),
    ],
)
def test_exec_errors(text: str, data: object, message: str) -> None:
    template = parse(text)
    with pytest.raises(TemplateError) as info:
        template.execute(data)
    assert str(info.value) == message
    assert info.value.go_message == message


def test_execute_into_keeps_partial_output() -> None:
    out: list[str] = []
    with pytest.raises(TemplateError):
        parse("ok {{.A.X}} never").execute_into(out, {"A": 1})
    assert "".join(out) == "ok "
