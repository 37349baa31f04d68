"""Bad specs and the exact problems reported for them.

Each file in spec_cases/ is one case: a spec that differs from valid.yaml in one place, with the
problems expected for it in a trailing ``# expect:`` comment block (so lines above it stay put).
"""

from pathlib import Path

import pytest
import yaml

from orchestrator.spec import SpecError, SpecProblem, load_spec, parse_spec

CASES = Path(__file__).parent / "spec_cases"
BAD = sorted(path for path in CASES.glob("*.yaml") if path.name != "valid.yaml")


def _expected(text: str) -> list[str]:
    _, _, block = text.partition("# expect:\n")
    return [line.removeprefix("#").strip() for line in block.splitlines()]


def _reported(text: str, file: str) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_spec(text, file)
    return [str(problem) for problem in caught.value.problems]


def test_the_base_of_every_case_is_valid() -> None:
    spec = load_spec(CASES / "valid.yaml")
    assert [host.name for host in spec.expanded_hosts()] == ["web-01", "web-02"]


def test_there_are_enough_cases() -> None:
    assert len(BAD) >= 12


@pytest.mark.parametrize("case", BAD, ids=[path.stem for path in BAD])
def test_bad_spec_reports_exactly(case: Path) -> None:
    text = case.read_text(encoding="utf-8")
    expected = _expected(text)
    assert expected, f"{case.name} has no '# expect:' block"
    assert _reported(text, case.name) == expected


def test_missing_file_is_one_line_without_a_line_number(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        load_spec(tmp_path / "acme.yaml")
    assert [str(problem) for problem in caught.value.problems] == [
        f"{tmp_path / 'acme.yaml'}: file not found"
    ]


def test_directory_is_not_a_spec(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        load_spec(tmp_path)
    assert str(caught.value) == f"{tmp_path}: is a directory, not a file"


def test_binary_file_is_not_a_spec(tmp_path: Path) -> None:
    path = tmp_path / "acme.yaml"
    path.write_bytes(b"id: \xff\xfe\n")
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert str(caught.value) == f"{path}:1: not UTF-8 text (byte 4)"


def test_bytes_that_are_not_utf8_are_a_problem_at_their_line(tmp_path: Path) -> None:
    """Found by the fuzzer: the problem had no line, where every other one has."""
    path = tmp_path / "acme.yaml"
    path.write_bytes(b"id: acme\r\ntitle: caf\xe9\n")
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert str(caught.value) == f"{path}:2: not UTF-8 text (byte 20)"


def test_file_named_as_given(tmp_path: Path) -> None:
    path = tmp_path / "acme.yaml"
    path.write_text((CASES / "count-zero.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert str(caught.value) == f"{path}:17: hosts[0].count: must be >= 1"


def test_problems_are_values_with_their_parts() -> None:
    text = (CASES / "count-zero.yaml").read_text(encoding="utf-8")
    with pytest.raises(SpecError) as caught:
        parse_spec(text, "acme.yaml")
    assert caught.value.problems == (
        SpecProblem("acme.yaml", 17, "hosts[0].count", "must be >= 1"),
    )


@pytest.mark.parametrize(
    ("problem", "text"),
    [
        (SpecProblem("a.yaml", 3, "id", "required"), "a.yaml:3: id: required"),
        (SpecProblem("a.yaml", 3, "", "invalid YAML"), "a.yaml:3: invalid YAML"),
        (SpecProblem("a.yaml", None, "", "file not found"), "a.yaml: file not found"),
    ],
)
def test_problem_text(problem: SpecProblem, text: str) -> None:
    assert str(problem) == text


def test_problems_sorted_by_line_and_without_repeats() -> None:
    late = SpecProblem("a.yaml", 9, "b", "x")
    early = SpecProblem("a.yaml", 2, "a", "x")
    assert SpecError([late, early, late]).problems == (early, late)


def test_alias_that_contains_itself() -> None:
    assert _reported("a: &loop [*loop]\n", "loop.yaml") == [
        "loop.yaml:1: invalid YAML: an alias contains itself"
    ]


def test_aliases_that_expand_to_millions_of_values() -> None:
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]" for n in range(1, 7)]
    assert _reported("\n".join(levels), "laughs.yaml") == [
        "laughs.yaml:1: invalid YAML: over 100000 values once aliases are expanded"
    ]


def test_deep_nesting_is_refused() -> None:
    assert _reported("a: " + "[" * 5000 + "]" * 5000, "deep.yaml") == [
        "deep.yaml:1: invalid YAML: nested too deeply"
    ]


def test_anchors_work_and_problems_show_at_the_alias() -> None:
    text = (CASES / "valid.yaml").read_text(encoding="utf-8")
    text = text.replace("    size: {cpus: 2,", "    size: &small {cpus: 0,")
    text = text.replace(
        "operations:",
        "  - {name: db, role: db, image: debian-12,\n"
        "     size: *small, provider: lab}\noperations:",
    )
    assert _reported(text, "anchors.yaml") == [  # line 22 is `size: *small`
        "anchors.yaml:19: hosts[0].size.cpus: must be >= 1",
        "anchors.yaml:22: hosts[1].size.cpus: must be >= 1",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("null\n\x00...\n", "nul.yaml:2: invalid YAML (column 1): the character U+0000"),
        ("id: a\ntitle: x\x07y\n", "nul.yaml:2: invalid YAML (column 9): the character U+0007"),
        ("id: \x9f\n", "nul.yaml:1: invalid YAML (column 5): the character U+009F"),
    ],
)
def test_a_control_character_is_refused_at_its_line(text: str, expected: str) -> None:
    """Found by the fuzzer: PyYAML refused the NUL before parsing began, outside the ``try``
    that turns YAML errors into problems, and ``orchestrator validate`` showed a traceback."""
    (reported,) = _reported(text, "nul.yaml")
    assert reported.startswith(expected)
    assert reported.endswith("is not allowed in YAML (a control character); remove it")


@pytest.mark.parametrize(
    ("text", "where", "what"),
    [
        ("id: " + "9" * 4301 + "\n", "1", "5): a number of 4301 characters (at most 100)"),
        (
            "id: a\ntitle: 1" + ":00" * 40 + "\n",
            "2",
            "8): a number of 121 characters (at most 100)",
        ),
        ("id: !!int abc\n", "1", "5): cannot be read as a whole number"),
        ("id: !!bool maybe\n", "1", "5): cannot be read as true or false"),
        ("id: !!timestamp 2025-13-45\n", "1", "5): cannot be read as a date"),
        ("id: !!float\n", "1", "5): cannot be read as a number"),
    ],
)
def test_a_scalar_yaml_cannot_read_is_a_problem_at_its_place(
    text: str, where: str, what: str
) -> None:
    """Found by the fuzzer: ``prefix_length: 999...`` (4301 digits) made PyYAML's ``int()``
    raise ``ValueError`` (Python's limit on digits), which no ``except`` expected: a traceback.
    ``!!int abc`` and friends failed the same way; ``1:00:00:...`` (YAML's base 60) took time
    quadratic in its length."""
    expected = f"big.yaml:{where}: invalid YAML (column {what}; quote it if it is text"
    assert _reported(text, "big.yaml") == [expected]


@pytest.mark.parametrize("separator", ["\x85", "\u2028", "\u2029"])
def test_lines_are_counted_as_editors_count_them(separator: str) -> None:
    """Found by the fuzzer: PyYAML ends a line at NEL, U+2028 and U+2029 too, so a problem after
    one was reported lines below where an editor (or ``grep -n``) shows it, even past the end."""
    text = (CASES / "count-zero.yaml").read_text(encoding="utf-8")
    text = text.replace("{name: Acme B.V.,", f'{{name: "Acme{separator}B.V.{separator}",', 1)
    assert separator in text
    assert _reported(text, "acme.yaml") == ["acme.yaml:17: hosts[0].count: must be >= 1"]


@pytest.mark.parametrize("newline", ["\r\n", "\r"])
def test_windows_and_old_mac_line_ends_count_once(newline: str) -> None:
    text = (CASES / "count-zero.yaml").read_text(encoding="utf-8").replace("\n", newline)
    assert _reported(text, "acme.yaml") == ["acme.yaml:17: hosts[0].count: must be >= 1"]


def test_a_syntax_error_after_a_line_separator_is_at_the_line_an_editor_shows() -> None:
    assert _reported('id: "x\u2028y"\ntitle: [a\n', "sep.yaml") == [
        "sep.yaml:3: invalid YAML (column 1): expected ',' or ']', but got '<stream end>'"
    ]


@pytest.mark.parametrize(
    ("key", "field"),
    [
        ("ti\ntle", r'["ti\ntle"]'),
        ("name\u200b", r'["name\u200b"]'),
        ("a\u202eb", r'["a\u202eb"]'),
        ('say "hi"\\', r'["say \"hi\"\\"]'),
        ("\x7f", r'["\x7f"]'),
        ("\U000e0001", r'["\U000e0001"]'),
        ("naïve ключ 中", '["naïve ключ 中"]'),
    ],
)
def test_a_key_is_named_on_one_line_as_written(key: str, field: str) -> None:
    """Found by the fuzzer: a key with a line break split its problem over two lines, and one
    with U+200B (invisible) or U+202E (turns the text around) was shown as the key it is not."""
    text = (CASES / "valid.yaml").read_text(encoding="utf-8")
    written = yaml.safe_dump({key: "x"}, allow_unicode=True)
    text = text.replace("\nid:", f"\n{written}id:", 1)
    (reported,) = _reported(text, "key.yaml")
    assert reported.startswith(f"key.yaml:2: {field}: unknown key")


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ("    count: 2", "    count: yes", "17: hosts[0].count"),
        ("cpus: 2,", "cpus: true,", "19: hosts[0].size.cpus"),
        ("  prefix_length: 28", "  prefix_length: on", "13: network.prefix_length"),
    ],
)
def test_true_or_false_is_not_a_number(before: str, after: str, expected: str) -> None:
    """Found while writing the fuzzer: pydantic takes true/false (YAML's yes/no/on/off too) as
    1 and 0, so ``count: yes`` was a valid spec of one host."""
    text = (CASES / "valid.yaml").read_text(encoding="utf-8").replace(before, after)
    assert _reported(text, "bool.yaml") == [
        f"bool.yaml:{expected}: must be a number, not true/false"
    ]


def test_true_or_false_is_still_a_vip() -> None:
    text = (
        (CASES / "valid.yaml")
        .read_text(encoding="utf-8")
        .replace(
            "  prefix_length: 28\n",
            "  prefix_length: 28\n  load_balancer:\n    vip: false\n    backend_role: web\n"
            "    ports: [{port: 443}]\n",
        )
    )
    balancer = parse_spec(text).network.load_balancer
    assert balancer is not None
    assert balancer.vip is False


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (
            "  parent_prefix: 10.213.128.0/17",
            "  parent_prefix: 3",
            "12: network.parent_prefix: must be an IP network like 192.0.2.0/24",
        ),
        (
            "    provider: lab",
            "    provider: static\n    addresses: [1, 2]",
            "21: hosts[0].addresses[0]: must be an IP address like 192.0.2.10",
        ),
    ],
)
def test_a_number_is_not_an_address(before: str, after: str, expected: str) -> None:
    """Found while writing the fuzzer: pydantic takes a whole number as an address (1 is
    0.0.0.1, a parent prefix 3 is 0.0.0.3/32), so ``addresses: [1, 2]`` was a valid spec."""
    text = (CASES / "valid.yaml").read_text(encoding="utf-8").replace(before, after)
    reported = _reported(text, "ip.yaml")
    assert f"ip.yaml:{expected}" in reported


def test_a_key_yaml_reads_as_empty_is_quoted_on_one_line() -> None:
    """Found while extending the fuzzer: ``!!null "a\\nb": 1`` is a key YAML reads as empty;
    the message quoted its text as written, line break and all, over two lines."""
    assert _reported('id: x\n!!null "a\\nb\\u202e": 1\n', "null.yaml")[-1] == (
        r'null.yaml:2: ["a\nb\u202e"]: YAML reads this key as empty; quote it: "a\nb\u202e"'
    )
